//! The counting table's storage: an open-addressing array of 16- or 32-byte
//! slots with linear probing, a key of 0 marking an empty slot.
//!
//! A slot's place is the top bits of a placement hash the caller computes,
//! so a caller can `prefetch` a word's slot while it tokenizes the next
//! words, and find it in cache when it comes back. With two or four slots
//! to a 64-byte line and at most three slots in four used, a probe usually
//! reads one line: the one prefetched.

/// What the array needs of a slot: to tell an empty one (all zero bytes,
/// `Default`) from a used one.
pub trait Vacancy: Copy + Default {
    fn is_vacant(&self) -> bool;
}

/// One slot: a non-zero key (0: empty) and a value, both the caller's;
/// aligned to its size, so that a slot never straddles two cache lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Slot {
    pub key: [u8; 8],
    pub value: u64,
}

impl Slot {
    /// The key as an integer (0 for an empty slot).
    #[inline(always)]
    pub fn key(&self) -> u64 {
        u64::from_le_bytes(self.key)
    }
}

impl Vacancy for Slot {
    #[inline(always)]
    fn is_vacant(&self) -> bool {
        self.key() == 0
    }
}

/// A wide slot: a 16-byte key whose second half is not zero (0: empty) and
/// a value, both the caller's; aligned to its size (half a cache line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct WideSlot {
    pub key: [u8; 16],
    pub value: u64,
}

impl WideSlot {
    /// The key's two halves as integers.
    #[inline(always)]
    pub fn keys(&self) -> (u64, u64) {
        let (low, high) = self.key.split_at(8);
        (u64_le(low), u64_le(high))
    }
}

/// The integer of 8 little-endian bytes.
#[inline(always)]
fn u64_le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

impl Vacancy for WideSlot {
    #[inline(always)]
    fn is_vacant(&self) -> bool {
        self.keys().1 == 0
    }
}

/// Slots in a power-of-two array, grown (doubled) before it is more than
/// three quarters full.
#[derive(Debug)]
pub struct Slots<S = Slot> {
    slots: Vec<S>,
    /// 64 less the log2 of the length: `place >> shift` is a slot's index.
    shift: u32,
    used: usize,
}

/// The smallest array a table allocates.
const FIRST_LEN: usize = 16;

/// Where a key was looked for: its slot, or the empty slot it would take.
#[derive(Debug)]
pub enum Found {
    At(usize),
    Vacant(usize),
}

impl<S> Default for Slots<S> {
    fn default() -> Self {
        Slots { slots: Vec::new(), shift: 0, used: 0 }
    }
}

impl<S: Vacancy> Slots<S> {
    /// Slots in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<S>()
    }

    /// Asks the CPU to bring the slot of `place` into cache.
    #[inline(always)]
    pub fn prefetch(&self, place: u64) {
        if let Some(slot) = self.slots.get((place >> self.shift) as usize) {
            crate::prefetch::prefetch(slot);
        }
    }

    /// Looks for the slot at or after `place`'s whose key `is` accepts
    /// (`is` never sees an empty slot).
    #[inline(always)]
    pub fn find(&self, place: u64, is: impl Fn(&S) -> bool) -> Found {
        if self.slots.is_empty() {
            return Found::Vacant(0);
        }
        let mask = self.slots.len() - 1;
        let mut i = (place >> self.shift) as usize;
        loop {
            let slot = &self.slots[i];
            if slot.is_vacant() {
                return Found::Vacant(i);
            }
            if is(slot) {
                return Found::At(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot at `index` (from `find`).
    #[inline(always)]
    pub fn get_mut(&mut self, index: usize) -> &mut S {
        &mut self.slots[index]
    }

    /// Puts `slot` (whose placement hash is `place`) into the empty slot
    /// `find` returned, growing the array first when it is full enough;
    /// `place_of` gives the placement of the slots already in.
    #[inline(always)]
    pub fn insert(&mut self, vacant: usize, place: u64, slot: S, place_of: impl Fn(&S) -> u64) {
        let mut at = vacant;
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            self.grow(self.used + 1, place_of);
            at = self.vacant_for(place);
        }
        self.slots[at] = slot;
        self.used += 1;
    }

    /// Takes the slot at `index` out, and moves later slots of its probe
    /// run back into the gap, so that every key is still found without
    /// markers for removed slots; `place_of` gives a slot's placement.
    pub fn remove(&mut self, index: usize, place_of: impl Fn(&S) -> u64) -> S {
        let mask = self.slots.len() - 1;
        let removed = self.slots[index];
        let mut gap = index;
        let mut next = index;
        loop {
            next = (next + 1) & mask;
            let slot = self.slots[next];
            if slot.is_vacant() {
                break;
            }
            // The slot may fill the gap if its home is not after the gap
            // (on the way round from the gap to it).
            let home = (place_of(&slot) >> self.shift) as usize;
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(gap) & mask {
                self.slots[gap] = slot;
                gap = next;
            }
        }
        self.slots[gap] = S::default();
        self.used -= 1;
        removed
    }

    /// Makes room for `additional` more slots without growing again.
    pub fn reserve(&mut self, additional: usize, place_of: impl Fn(&S) -> u64) {
        if (self.used + additional) * 4 > self.slots.len() * 3 {
            self.grow(self.used + additional, place_of);
        }
    }

    /// Every used slot, in array order.
    pub fn iter(&self) -> impl Iterator<Item = &S> {
        self.slots.iter().filter(|s| !s.is_vacant())
    }

    /// The first empty slot at or after `place`'s.
    fn vacant_for(&self, place: u64) -> usize {
        match self.find(place, |_| false) {
            Found::Vacant(i) | Found::At(i) => i,
        }
    }

    /// Moves every slot into an array long enough for `needed` slots.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, needed: usize, place_of: impl Fn(&S) -> u64) {
        let mut len = self.slots.len().max(FIRST_LEN);
        while needed * 4 > len * 3 {
            len *= 2;
        }
        let mut slots = Vec::with_capacity(len);
        crate::alloc::prefer_huge_pages(slots.as_ptr(), len * size_of::<S>());
        slots.resize(len, S::default());
        let old = std::mem::replace(&mut self.slots, slots);
        self.shift = 64 - len.trailing_zeros();
        for slot in old.into_iter().filter(|s| !s.is_vacant()) {
            let at = self.vacant_for(place_of(&slot));
            self.slots[at] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: u64) -> Slot {
        Slot { key: k.to_le_bytes(), value: k * 10 }
    }

    #[test]
    fn keys_are_found_across_growth_and_collisions() {
        let mut slots = Slots::<Slot>::default();
        // Placement 0 for the even keys: one long collision chain.
        let place = |k: u64| if k.is_multiple_of(2) { 0 } else { k.wrapping_mul(0x9E37_79B9_7F4A_7C15) };
        for k in 1..=1000u64 {
            match slots.find(place(k), |s| s.key() == k) {
                Found::At(_) => panic!("{k} found before it was put"),
                Found::Vacant(i) => slots.insert(i, place(k), key(k), |s| place(s.key())),
            }
        }
        for k in 1..=1000u64 {
            let Found::At(i) = slots.find(place(k), |s| s.key() == k) else { panic!("{k} lost") };
            assert_eq!(slots.get_mut(i).value, k * 10);
        }
        assert_eq!(slots.iter().count(), 1000);
        assert!(slots.heap_bytes() <= 2048 * 16, "{}", slots.heap_bytes());
    }

    #[test]
    fn removed_keys_are_gone_and_the_others_still_found() {
        // Few places, so that probe runs are long; the odd keys' run wraps
        // round the end of the array (128 slots) into the even keys'.
        let place = |k: u64| if k.is_multiple_of(2) { (k % 5) << 59 } else { u64::MAX - ((k % 3) << 57) };
        let mut slots = Slots::<Slot>::default();
        for k in 1..=90u64 {
            let Found::Vacant(i) = slots.find(place(k), |s| s.key() == k) else { panic!("{k} twice") };
            slots.insert(i, place(k), key(k), |s| place(s.key()));
        }
        for gone in (1..=90u64).filter(|k| k % 4 == 1 || k % 5 == 0) {
            let Found::At(i) = slots.find(place(gone), |s| s.key() == gone) else { panic!("{gone} lost") };
            assert_eq!(slots.remove(i, |s| place(s.key())), key(gone));
            for k in 1..=90u64 {
                let found = matches!(slots.find(place(k), |s| s.key() == k), Found::At(_));
                let kept = k > gone || !(k % 4 == 1 || k % 5 == 0);
                assert_eq!(found, kept, "{k} after removing {gone}");
            }
        }
        assert_eq!(slots.used(), slots.iter().count());
    }
}

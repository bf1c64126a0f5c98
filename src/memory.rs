//! The memory limit (`--memory-limit`): how much anonymous memory a
//! process that holds words may use, and the check that stops a job with a
//! clear error before the machine swaps or the kernel's OOM killer ends it.
//!
//! What is measured is the process's resident anonymous memory (resident
//! minus shared pages, from `/proc/self/statm`): tables, arenas, buffers.
//! The memory-mapped inputs are file-backed and do not count; the kernel
//! can drop and re-read them. Reading `statm` costs a few microseconds, so
//! counting loops check it every `CHECK_WORDS` words (`Meter`) and mergers
//! once per batch, never per word.
//!
//! The default is 90 % of the memory this process may have: the smaller of
//! physical memory (`MemTotal`) and the limit of its memory cgroup
//! (`memory.max` under cgroup v2, `memory.limit_in_bytes` under v1, the
//! smallest on the way up to the hierarchy's root).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::metrics::human_bytes;

/// The default share of the machine's memory, in percent.
pub const DEFAULT_PERCENT: f64 = 90.0;

/// A counting loop reads the process's memory once per this many words.
pub const CHECK_WORDS: u32 = 1 << 20;

/// `--memory-limit` as given: a size, or a share of the machine's memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MemorySetting {
    Bytes(u64),
    /// Percent of the smaller of physical memory and the cgroup's limit.
    Percent(f64),
}

impl Default for MemorySetting {
    fn default() -> Self {
        MemorySetting::Percent(DEFAULT_PERCENT)
    }
}

impl MemorySetting {
    /// Parses `512M`, `2G`, `1.5GiB`, `4096` (bytes) or `50%`. Units are
    /// binary multiples whatever their spelling (`K`, `KB`, `KiB`, up to
    /// `T`), case-insensitive; a percentage is of the machine's memory.
    pub fn parse(text: &str) -> Result<MemorySetting, String> {
        let bad = || format!("`{text}` is not a memory size like 512M, 2G, 1.5GiB or 50%");
        let t = text.trim();
        if let Some(number) = t.strip_suffix('%') {
            let p: f64 = number.trim().parse().map_err(|_| bad())?;
            if p.is_nan() || p <= 0.0 || p > 100.0 {
                return Err(format!("`{text}`: a share of memory is more than 0 % and at most 100 %"));
            }
            return Ok(MemorySetting::Percent(p));
        }
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = (&t[..split], t[split..].trim());
        let shift = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return Err(bad()),
        };
        let bytes = if number.contains('.') {
            let n: f64 = number.parse().map_err(|_| bad())?;
            let bytes = (n * (1u64 << shift) as f64).round();
            if bytes >= u64::MAX as f64 {
                return Err(format!("`{text}` is too large"));
            }
            bytes as u64
        } else {
            let n: u64 = number.parse().map_err(|_| bad())?;
            n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))?
        };
        if bytes == 0 {
            return Err("the memory limit must be at least 1 byte".into());
        }
        Ok(MemorySetting::Bytes(bytes))
    }

    /// The setting for each of `n` processes sharing this one (`run`'s
    /// local workers share the machine).
    pub fn divided(self, n: usize) -> MemorySetting {
        let n = n.max(1);
        match self {
            MemorySetting::Bytes(b) => MemorySetting::Bytes((b / n as u64).max(1)),
            MemorySetting::Percent(p) => MemorySetting::Percent(p / n as f64),
        }
    }
}

/// Written as `parse` reads it (how `run` hands it to its workers).
impl fmt::Display for MemorySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemorySetting::Bytes(b) => write!(f, "{b}"),
            MemorySetting::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The limit in force for this process: bytes of anonymous memory, and
/// where the number comes from (said in the error).
#[derive(Clone, Debug)]
pub struct MemoryLimit {
    bytes: u64,
    basis: String,
}

impl MemoryLimit {
    /// No limit (library callers and tests that do not set one).
    pub fn none() -> MemoryLimit {
        MemoryLimit { bytes: u64::MAX, basis: "no limit".into() }
    }

    /// The limit `setting` means on this machine. A share of memory that
    /// cannot be known (no `/proc/meminfo`) is no limit.
    pub fn resolve(setting: MemorySetting) -> MemoryLimit {
        match setting {
            MemorySetting::Bytes(bytes) => MemoryLimit { bytes, basis: "--memory-limit".into() },
            MemorySetting::Percent(p) => match machine_memory() {
                Some((total, of)) => MemoryLimit {
                    bytes: (total as f64 * p / 100.0) as u64,
                    basis: format!("{} % of {of}", round_percent(p)),
                },
                None => MemoryLimit::none(),
            },
        }
    }

    /// The limit in bytes (`u64::MAX` for none).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// `1.8 GiB (90 % of the 2.0 GiB of the cgroup's memory.max)`, for logs.
    pub fn describe(&self) -> String {
        if self.bytes == u64::MAX {
            return self.basis.clone();
        }
        format!("{} ({})", size(self.bytes), self.basis)
    }

    /// Fails with `Error::Memory` when the process holds more anonymous
    /// memory than the limit; `distinct` says how many distinct words the
    /// table being filled holds (asked only then). Memory the allocator
    /// kept after frees (a previous job's tables, say) is given back before
    /// the process is judged over.
    pub fn check(&self, distinct: impl FnOnce() -> usize) -> Result<()> {
        if self.bytes == u64::MAX || anon_bytes().is_none_or(|used| used <= self.bytes) {
            return Ok(());
        }
        crate::alloc::give_back();
        match anon_bytes() {
            Some(used) if used > self.bytes => {
                Err(Error::Memory { used, distinct: distinct() as u64, limit: self.bytes, basis: self.basis.clone() })
            }
            _ => Ok(()),
        }
    }

    /// A meter for one counting loop: `stop` is set when it finds the
    /// process over the limit, so readers of the job's inputs stop too.
    pub fn meter<'a>(&'a self, stop: &'a AtomicBool) -> Meter<'a> {
        Meter { limit: self, stop, left: CHECK_WORDS, over: None }
    }
}

/// Bytes for the error, to two decimals (`1.84 GiB`): a process just over
/// its limit must not read as holding exactly the limit.
pub fn size(n: u64) -> String {
    let text = human_bytes(n);
    match text.split_once(' ') {
        Some((_, unit)) if unit != "B" => {
            let exp = ["KiB", "MiB", "GiB", "TiB"].iter().position(|u| *u == unit).map_or(1, |i| i as i32 + 1);
            format!("{:.2} {unit}", n as f64 / 1024f64.powi(exp))
        }
        _ => text,
    }
}

/// `90`, `45`, `33.3`: a percentage as people write it.
fn round_percent(p: f64) -> String {
    let tenths = (p * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 { format!("{tenths:.0}") } else { format!("{tenths:.1}") }
}

/// Checks the limit every `CHECK_WORDS` words of one counting loop: a
/// counter per word, a read of `statm` now and then.
#[derive(Debug)]
pub struct Meter<'a> {
    limit: &'a MemoryLimit,
    stop: &'a AtomicBool,
    left: u32,
    over: Option<Error>,
}

impl Meter<'_> {
    /// Counts `words` words; every `CHECK_WORDS` words, checks the limit
    /// (`distinct` as for `MemoryLimit::check`).
    #[inline]
    pub fn tick(&mut self, words: u32, distinct: impl FnOnce() -> usize) {
        if words < self.left {
            self.left -= words;
        } else {
            self.check(distinct);
        }
    }

    /// Checks the limit now (once over, it stays over).
    #[cold]
    pub fn check(&mut self, distinct: impl FnOnce() -> usize) {
        self.left = CHECK_WORDS;
        if self.over.is_some() {
            return;
        }
        if let Err(error) = self.limit.check(distinct) {
            self.over = Some(error);
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    /// The loop's outcome: the limit's error if it was passed (whatever
    /// reading then did), else `read`.
    pub fn finish<T>(self, read: Result<T>) -> Result<T> {
        match self.over {
            Some(error) => Err(error),
            None => read,
        }
    }
}

/// The process's resident anonymous memory in bytes (resident minus
/// file-backed and shared pages), or `None` where `/proc` cannot say.
pub fn anon_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = statm.split_ascii_whitespace().skip(1).map(|f| f.parse::<u64>().ok());
    let (resident, shared) = (fields.next()??, fields.next()??);
    Some(resident.saturating_sub(shared) * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// The memory this process may have and what that is, for the error: the
/// smaller of physical memory and its cgroup's limit.
fn machine_memory() -> Option<(u64, String)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = mem_total(&meminfo)?;
    let ram = (total, format!("the {} of physical memory", size(total)));
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|cgroups| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let (dir, mount, file) = memory_cgroup(&cgroups, &mountinfo)?;
        Some((cgroup_limit(&dir, &mount, file)?, file))
    });
    match cgroup {
        Some((limit, file)) if limit < total => Some((limit, format!("the {} of the cgroup's {file}", size(limit)))),
        _ => Some(ram),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Where this process's memory cgroup is, from `/proc/self/cgroup` and
/// `/proc/self/mountinfo`: its directory, the mount point of its hierarchy
/// and the name of the limit's file there. A v1 memory hierarchy is used
/// when one is mounted (on a hybrid system the memory controller is there),
/// else the v2 one.
fn memory_cgroup(cgroups: &str, mountinfo: &str) -> Option<(PathBuf, PathBuf, &'static str)> {
    // A mount: (root of the hierarchy it shows, mount point, fs type, super options).
    let mounts: Vec<(&str, &str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut b = before.split(' ');
            let (root, point) = (b.nth(3)?, b.next()?);
            let mut a = after.split(' ');
            let (fstype, super_options) = (a.next()?, a.nth(1).unwrap_or(""));
            Some((root, point, fstype, super_options))
        })
        .collect();
    let v1 = cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "memory").then_some(path)
    });
    let v1_mount =
        mounts.iter().find(|(_, _, fstype, options)| *fstype == "cgroup" && options.split(',').any(|o| o == "memory"));
    let (path, (root, point, _, _), file) = match (v1, v1_mount) {
        (Some(path), Some(mount)) => (path, mount, "memory.limit_in_bytes"),
        _ => {
            let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
            (path, mounts.iter().find(|m| m.2 == "cgroup2")?, "memory.max")
        }
    };
    let inside = path.strip_prefix(root).unwrap_or(path).trim_start_matches('/');
    let point = PathBuf::from(unescape_mount(point));
    Some((point.join(inside), point, file))
}

/// A mountinfo path with its octal escapes (`\040` for a space) undone.
fn unescape_mount(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The smallest limit in `file` from `dir` up to `mount` (a parent's limit
/// binds its children); `None` when no directory on the way sets one.
fn cgroup_limit(dir: &Path, mount: &Path, file: &str) -> Option<u64> {
    dir.ancestors()
        .take_while(|d| d.starts_with(mount))
        .filter_map(|d| std::fs::read_to_string(d.join(file)).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok()) // "max" (v2) is no limit
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_shares() {
        let bytes = |t: &str| match MemorySetting::parse(t) {
            Ok(MemorySetting::Bytes(b)) => b,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(bytes("4096"), 4096);
        assert_eq!(bytes("512M"), 512 << 20);
        assert_eq!(bytes("512m"), 512 << 20);
        assert_eq!(bytes("2G"), 2 << 30);
        assert_eq!(bytes("2GB"), 2 << 30);
        assert_eq!(bytes("1.5GiB"), 3 << 29);
        assert_eq!(bytes(" 1.5 gib "), 3 << 29);
        assert_eq!(bytes("64KiB"), 64 << 10);
        assert_eq!(bytes("1T"), 1 << 40);
        assert_eq!(bytes("100b"), 100);
        assert_eq!(bytes("0.5K"), 512);
        assert_eq!(MemorySetting::parse("50%"), Ok(MemorySetting::Percent(50.0)));
        assert_eq!(MemorySetting::parse("12.5 %"), Ok(MemorySetting::Percent(12.5)));
        for bad in ["", "x", "2X", "G", "-1G", "0", "0.0M", "1.2.3G", "0%", "101%", "-5%", "%", "NaN%", "99999999999T"]
        {
            assert!(MemorySetting::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_setting_reads_back_as_written_and_divides() {
        for setting in [MemorySetting::Bytes(3 << 29), MemorySetting::Percent(30.000000000000004)] {
            assert_eq!(MemorySetting::parse(&setting.to_string()), Ok(setting));
        }
        assert_eq!(MemorySetting::Bytes(1 << 30).divided(4), MemorySetting::Bytes(1 << 28));
        assert_eq!(MemorySetting::default().divided(3), MemorySetting::Percent(30.0));
        assert_eq!(MemorySetting::Bytes(3).divided(0), MemorySetting::Bytes(3));
        assert_eq!(round_percent(90.0 / 7.0), "12.9");
        assert_eq!(round_percent(45.0), "45");
        assert_eq!((size(1), size(1023), size(16 << 20)), ("1 B".into(), "1023 B".into(), "16.00 MiB".into()));
        assert_eq!(size((1 << 30) * 184 / 100), "1.84 GiB");
    }

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:2 - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:7 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu\\040x rw,nosuid shared:8 - cgroup cgroup rw,cpu
";

    #[test]
    fn the_memory_cgroup_is_found_under_v1_and_v2() {
        let hybrid = "4:memory:/jobs/a\n1:cpu:/\n0::/user.slice\n";
        let (dir, mount, file) = memory_cgroup(hybrid, MOUNTINFO).unwrap();
        assert_eq!(
            (dir.as_path(), mount.as_path()),
            (Path::new("/sys/fs/cgroup/memory/jobs/a"), Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(file, "memory.limit_in_bytes");
        let unified = "22 1 8:1 / / rw - ext4 /dev/vda rw\n40 22 0:30 /box /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let (dir, _, file) = memory_cgroup("0::/box/job\n", unified).unwrap();
        assert_eq!((dir.as_path(), file), (Path::new("/sys/fs/cgroup/job"), "memory.max"));
        assert_eq!(memory_cgroup("0::/\n", "22 1 8:1 / / rw - ext4 /dev/vda rw\n"), None);
        assert_eq!(unescape_mount("/a\\040b\\011c"), "/a b\tc");
    }

    #[test]
    fn the_smallest_limit_on_the_way_up_binds() {
        let root = tempfile::tempdir().unwrap();
        let leaf = root.path().join("a/b");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(root.path().join("memory.max"), "max\n").unwrap();
        std::fs::write(root.path().join("a/memory.max"), "1048576\n").unwrap();
        std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_limit(&leaf, root.path(), "memory.max"), Some(1 << 20));
        assert_eq!(cgroup_limit(&leaf, &leaf, "memory.max"), None);
        assert_eq!(mem_total("MemFree: 1 kB\nMemTotal:       24683656 kB\n"), Some(24683656 * 1024));
    }

    #[test]
    fn this_process_is_measured_and_limited() {
        // (Other tests run in this process at the same time: only bounds
        // that hold whatever they allocate are checked.)
        assert!(anon_bytes().expect("/proc/self/statm") > 0);
        let error = MemoryLimit::resolve(MemorySetting::Bytes(1)).check(|| 1_234_567).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("the vocabulary does not fit in memory: ")
                && text.contains(" in use after 1,234,567 distinct words, over the limit of 1 B (--memory-limit); "),
            "{text}"
        );
        assert!(MemoryLimit::resolve(MemorySetting::Bytes(u64::MAX - 1)).check(|| 0).is_ok());
        let machine = MemoryLimit::resolve(MemorySetting::default());
        assert!(machine.bytes() > 0 && machine.describe().contains("(90 % of the "), "{}", machine.describe());
    }

    #[test]
    fn a_meter_checks_every_so_many_words_and_raises_the_stop_flag() {
        let stop = AtomicBool::new(false);
        let limit = MemoryLimit { bytes: 1, basis: "a test".into() };
        let mut meter = limit.meter(&stop);
        for _ in 1..CHECK_WORDS / 4 {
            meter.tick(4, || 0);
        }
        meter.tick(3, || 0);
        assert!(!stop.load(Ordering::Relaxed));
        meter.tick(32, || 7);
        assert!(stop.load(Ordering::Relaxed));
        let error = meter.finish(Ok(())).unwrap_err();
        assert!(error.to_string().contains("after 7 distinct words"), "{error}");
    }
}

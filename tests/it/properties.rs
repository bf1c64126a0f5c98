//! A property: on random inputs, `count` and `run` (on random numbers of
//! workers and split sizes) write exactly the oracle's bytes.

use proptest::prelude::*;

use crate::oracle;
use crate::util::{Dir, assert_same, ok};

fn text() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"abAB".to_vec()),
        3 => prop::sample::select(b" \n".to_vec()),
        1 => prop::sample::select(b"\t\r\x0b\x0c\xc3\xa9\xff\x00Zz".to_vec()),
    ];
    prop::collection::vec(byte, 0..3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn count_and_run_agree_with_the_oracle(data in text(), workers in 1usize..5, split in 1u64..200) {
        let dir = Dir::new();
        let input = dir.write("in.txt", &data);
        let expected = oracle::expected_for(&input);
        let split = split.to_string();
        ok(dir.cmd(&["count", "-q", "-o", "count.txt", "--split-size", &split, "in.txt"]));
        assert_same("count", &dir.read("count.txt"), &expected);
        ok(dir.cmd(&["run", "-q", "-w", &workers.to_string(), "-o", "run.txt", "--split-size", &split, "in.txt"]));
        assert_same("run", &dir.read("run.txt"), &expected);
    }
}

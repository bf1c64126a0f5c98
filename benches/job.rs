//! Whole jobs through the real binary, as a user runs them: `count` on one
//! and two threads and `run` on two local workers, on the sample text
//! repeated 10 times (43 MB, written to a temporary directory).

use std::process::{Command, Stdio};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;

fn job(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("sample_x10.txt");
    let one = common::sample();
    std::fs::write(&input, one.repeat(10)).expect("write input");
    let output = dir.path().join("out.txt");
    let mut group = c.benchmark_group("job_sample_x10");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(one.len() as u64 * 10));
    let cases: [(&str, &[&str]); 3] = [
        ("count_t1", &["count", "--threads", "1"]),
        ("count_t2", &["count", "--threads", "2"]),
        ("run_w2", &["run", "--workers", "2"]),
    ];
    for (name, args) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let status = Command::new(env!("CARGO_BIN_EXE_wordfreq"))
                    .args(args)
                    .arg("-q")
                    .arg("-o")
                    .arg(&output)
                    .arg(&input)
                    .stdout(Stdio::null())
                    .status()
                    .expect("wordfreq runs");
                assert!(status.success());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, job);
criterion_main!(benches);

//! The wire: encoding and validating a 1 MiB word batch, and moving the
//! batches of 10 M distinct words over loopback — once as a plain TCP copy
//! of the same bytes, once through the engine's path (event loops on both
//! sides, bounded write queue, frames parsed into aligned buffers, validated
//! with rkyv and read in place record by record). The ratio of the two is
//! the shuffle's transport efficiency.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wordfreq::net::{NetEvent, Reactor};
use wordfreq::wire::auth::Key;
use wordfreq::wire::hello::{Hello, Role};
use wordfreq::wire::message::{ArchivedWordBatch, Kind, WordBatch, access, encode};

mod common;

/// Batches of about 1 MiB, as one destination of a shuffle receives them.
fn batches(words: u64) -> Vec<WordBatch> {
    let text = common::distinct_text(words);
    let mut out = vec![WordBatch::default()];
    for word in text.split(|&b| b == b'\n').filter(|w| !w.is_empty()) {
        let batch = out.last_mut().expect("never empty");
        batch.push(word, 1);
        if batch.wire_bytes() >= 1 << 20 {
            out.push(WordBatch::default());
        }
    }
    out
}

fn payload(frame: &[u8]) -> rkyv::util::AlignedVec {
    let mut v = rkyv::util::AlignedVec::new();
    v.extend_from_slice(&frame[5..]);
    v
}

/// Reads every record of a batch in place; returns the sum of counts.
fn read_batch(bytes: &[u8]) -> u64 {
    let batch = access::<ArchivedWordBatch>(Kind::WordBatch, bytes).expect("valid");
    batch.records().expect("consistent").map(|(w, c)| c + w.len() as u64).sum()
}

fn encode_validate(c: &mut Criterion) {
    let batch = batches(60_000).remove(0);
    let frame = encode(Kind::WordBatch, &batch).expect("encodes");
    let bytes = payload(&frame);
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("encode_batch", |b| b.iter(|| black_box(encode(Kind::WordBatch, black_box(&batch)))));
    group.bench_function("validate_and_read_batch", |b| b.iter(|| black_box(read_batch(black_box(&bytes)))));
    group.finish();
}

/// Sends `frames` from one thread to another over a plain socket.
fn plain_copy(frames: &[Vec<u8>]) -> usize {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return got,
                Ok(n) => got += n,
            }
        }
    });
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    for f in frames {
        s.write_all(f).expect("write");
    }
    drop(s);
    reader.join().expect("reader")
}

/// Sends `frames` through two event loops; the receiver validates and reads
/// every record.
fn engine_copy(frames: &[Vec<u8>]) -> u64 {
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let expected = frames.len();
    let receiver = std::thread::spawn(move || {
        let mut reactor = Reactor::new(Some(listener), Key::derive(b"")).expect("reactor");
        let mut events = Vec::new();
        let (mut got, mut sum) = (0, 0u64);
        while got < expected {
            reactor.poll(None, &mut events).expect("poll");
            for event in events.drain(..) {
                if let NetEvent::Frame(_, frame) = event {
                    sum += read_batch(&frame.payload);
                    got += 1;
                }
            }
        }
        sum
    });
    let mut reactor = Reactor::new(None, Key::derive(b"")).expect("reactor");
    let token = reactor.connect(addr).expect("connect");
    reactor.send(token, Hello { role: Role::Peer, rank: 0, job_id: 1 }.encode().to_vec());
    let mut events = Vec::new();
    let mut next = 0;
    while next < frames.len() || reactor.queued(token) > 0 {
        while next < frames.len() && reactor.queued(token) < 4 << 20 {
            reactor.send(token, frames[next].clone());
            next += 1;
        }
        reactor.poll(Some(Duration::from_millis(100)), &mut events).expect("poll");
        events.clear();
    }
    let sum = receiver.join().expect("receiver");
    reactor.close(token);
    sum
}

fn loopback(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> =
        batches(10_000_000).iter().map(|b| encode(Kind::WordBatch, b).expect("encodes")).collect();
    let total: usize = frames.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("loopback_10m_distinct");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("plain_tcp_copy", |b| b.iter(|| black_box(plain_copy(&frames))));
    group.bench_function("engine_transport", |b| b.iter(|| black_box(engine_copy(&frames))));
    group.finish();
}

criterion_group!(benches, encode_validate, loopback);
criterion_main!(benches);

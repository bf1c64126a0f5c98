//! Compressed inputs (issue 11 §1): gzip (multi-member), bzip2, xz and
//! zstd, recognised by their magic bytes whatever the file is called, give
//! exactly the oracle's result on the decompressed bytes, in every command,
//! from a file, a directory or a pipe.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use crate::oracle;
use crate::util::{Dir, Worker, addrs, assert_same, data, fails, ok};

#[derive(Clone, Copy, Debug)]
enum Codec {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

const ALL: [Codec; 4] = [Codec::Gzip, Codec::Bzip2, Codec::Xz, Codec::Zstd];

/// `text` compressed with `codec` as one stream.
fn compress(codec: Codec, text: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        Codec::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        Codec::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        Codec::Zstd => zstd::stream::encode_all(text, 1).unwrap(),
    }
}

/// `text` cut in two, each half compressed on its own and the two
/// concatenated (a multi-member gzip file, several bzip2/xz streams, two
/// zstd frames), the cut inside a word.
fn two_streams(codec: Codec, text: &[u8]) -> Vec<u8> {
    let cut = text.len() / 2 + 3;
    [compress(codec, &text[..cut]), compress(codec, &text[cut..])].concat()
}

/// Some text: a part of the sample plus mixed case, tabs and UTF-8.
fn text() -> Vec<u8> {
    let mut text = std::fs::read(data("kjvbible.txt")).unwrap()[..700_000].to_vec();
    text.extend_from_slice("\tÉté CAFÉ café\r\nlast-word".as_bytes());
    text
}

#[test]
fn each_format_matches_the_oracle_on_its_decompressed_bytes_in_every_command() {
    let dir = Dir::new();
    let text = text();
    let plain = dir.write("plain.txt", &text);
    let expected = oracle::expected_for(&plain);
    let workers = [Worker::start(), Worker::start()];
    let list = addrs(&workers);
    for codec in ALL {
        // The name says nothing: the magic bytes decide.
        let file = dir.write(&format!("{codec:?}.data"), two_streams(codec, &text));
        for args in [
            &["count", "-t", "2"][..],
            &["run", "-w", "2"],
            &["master", "--workers", &list],
            &["master", "--ship", "--workers", &list],
        ] {
            let mut cmd = dir.cmd(&[args, &["-q", "--split-size", "64K", "-o", "out.txt"]].concat());
            cmd.arg(&file);
            ok(cmd);
            assert_same(&format!("{codec:?} {args:?}"), &dir.read("out.txt"), &expected);
        }
    }
}

#[test]
fn a_directory_of_compressed_and_plain_files_and_a_compressed_pipe() {
    let dir = Dir::new();
    let text = text();
    let parts: Vec<&[u8]> = text.chunks(text.len() / 5 + 1).collect();
    let mut decompressed: Vec<PathBuf> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        decompressed.push(dir.write(&format!("plain/{i}.txt"), part));
        match ALL.get(i) {
            Some(&codec) => dir.write(&format!("corpus/{i}.z"), compress(codec, part)),
            None => dir.write(&format!("corpus/{i}.txt"), part),
        };
    }
    // A plain file with a compressed name is read as it is.
    decompressed.push(dir.write("plain/x.gz", "not gzip at all\n"));
    dir.write("corpus/x.gz", "not gzip at all\n");
    let expected = oracle::expected(&decompressed, true);
    for args in [&["count"][..], &["run", "-w", "3"]] {
        ok(dir.cmd(&[args, &["-q", "--split-size", "64K", "-o", "out.txt", "corpus"]].concat()));
        assert_same(&format!("{args:?} corpus"), &dir.read("out.txt"), &expected);
    }

    // Compressed bytes through a pipe.
    let plain = dir.write("all.txt", &text);
    for (codec, args) in [(Codec::Gzip, &["count"][..]), (Codec::Zstd, &["run", "-w", "2"]), (Codec::Xz, &["count"])] {
        let mut cmd = dir.cmd(&[args, &["-q", "-o", "out.txt", "-"]].concat());
        let mut child = cmd.stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let bytes = two_streams(codec, &text);
        let writer = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_same(&format!("{codec:?} pipe {args:?}"), &dir.read("out.txt"), &oracle::expected_for(&plain));
    }
}

#[test]
fn corrupt_compressed_data_fails_naming_the_file() {
    let dir = Dir::new();
    let mut bytes = compress(Codec::Gzip, &text());
    let n = bytes.len();
    bytes.truncate(n - 100);
    let file = dir.write("cut.gz", bytes);
    for args in [&["count"][..], &["run", "-w", "2"]] {
        let stderr = fails(dir.cmd(&[args, &["-q", "cut.gz"]].concat()), 1);
        let cause = format!("cannot read input {}: cannot decompress it as gzip", file.display());
        assert!(stderr.contains(&cause), "{args:?}: {stderr}");
        assert!(!dir.join("resultats.txt").exists());
    }
    // Offsets of bad UTF-8 count decompressed bytes.
    dir.write("bad.zst", compress(Codec::Zstd, b"good words \xff here"));
    let stderr = fails(dir.cmd(&["count", "-q", "--tokenizer", "alnum", "bad.zst"]), 1);
    assert!(stderr.contains("bad.zst: invalid UTF-8 at byte offset 11"), "{stderr}");
}

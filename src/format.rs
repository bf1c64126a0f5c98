//! The result formats (`--format`): how one (word, count) record is
//! written, what comes before and after the records, and how a word that is
//! not UTF-8 is written where the format needs text.
//!
//! | format | a record | around the records |
//! |---|---|---|
//! | `txt` (default) | `WORD SPACE COUNT LF` | nothing |
//! | `tsv` | `WORD TAB COUNT LF` (as Hadoop writes) | nothing |
//! | `csv` | `WORD,COUNT LF`, the word quoted per RFC 4180 when needed | a `word,count` header line |
//! | `json` | `{"word": "WORD", "count": COUNT}` | `[` … `]`, one record a line, commas between |
//!
//! `txt` and `tsv` write a word's bytes as they are. `csv` and `json` hold
//! text, so a word is first made text by [`escape`]: bytes that are not
//! UTF-8 become `\xHH` and a backslash becomes `\\`; everything else is kept.
//! This is reversible ([`unescape`]), and a UTF-8 word without a backslash
//! is written unchanged.
//!
//! Every record is one line, so the master can count and concatenate the
//! workers' chunks without parsing them (words never hold a line break: every
//! tokenizer splits at one). [`ResultWriter`] adds the header, the commas
//! between JSON records that lie in different chunks, and the end.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::phase::Phase;

/// How the result is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// `WORD COUNT` lines.
    #[default]
    Txt,
    /// `WORD<TAB>COUNT` lines.
    Tsv,
    /// A `word,count` header, then one record a line (RFC 4180 quoting).
    Csv,
    /// An array of `{"word": …, "count": …}` objects, one a line.
    Json,
}

/// What ends every JSON record inside a chunk; the writer drops the comma
/// after the last one.
const JSON_END: &[u8] = b"},\n";

impl Format {
    /// The name used on the command line and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Tsv => "tsv",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The format's code on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The format with this wire code, if any.
    pub fn from_code(code: u8) -> Option<Format> {
        [Format::Txt, Format::Tsv, Format::Csv, Format::Json].into_iter().find(|f| f.code() == code)
    }

    /// Appends one record, a whole line. (A JSON record ends with a comma,
    /// which [`ResultWriter`] removes after the last one.)
    pub fn push_record(self, out: &mut Vec<u8>, word: &[u8], count: u64) {
        let mut digits = itoa::Buffer::new();
        let count = digits.format(count).as_bytes();
        match self {
            Format::Txt | Format::Tsv => {
                out.extend_from_slice(word);
                out.push(if self == Format::Txt { b' ' } else { b'\t' });
            }
            Format::Csv => {
                let text = escape(word);
                if text.contains([',', '"', '\r', '\n']) {
                    out.push(b'"');
                    out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
                    out.push(b'"');
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
                out.push(b',');
            }
            Format::Json => {
                out.extend_from_slice(b"{\"word\": \"");
                push_json_string(out, &escape(word));
                out.extend_from_slice(b"\", \"count\": ");
                out.extend_from_slice(count);
                out.extend_from_slice(JSON_END);
                return;
            }
        }
        out.extend_from_slice(count);
        out.push(b'\n');
    }

    /// What comes before the first record.
    fn header(self) -> &'static [u8] {
        match self {
            Format::Txt | Format::Tsv => b"",
            Format::Csv => b"word,count\n",
            Format::Json => b"[\n",
        }
    }
}

/// A word as text: valid UTF-8 is kept, except that a backslash becomes
/// `\\`; each byte that is not part of valid UTF-8 becomes `\xHH` (two
/// lowercase hex digits). Borrowed when nothing changes.
pub fn escape(word: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(word)
        && !text.contains('\\')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(word.len() + 8);
    for chunk in word.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    Cow::Owned(out)
}

/// The bytes of a word written by [`escape`]; `None` if `text` is not
/// something `escape` writes (a lone backslash, a bad `\x` escape).
pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match rest {
            [b'\\', tail @ ..] => {
                out.push(b'\\');
                rest = tail;
            }
            [b'x', hi, lo, tail @ ..] => {
                let hex = std::str::from_utf8(&[*hi, *lo]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())?;
                out.push(hex);
                rest = tail;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Appends `text` as the inside of a JSON string: `"` and `\` escaped,
/// control characters as `\u00XX`, everything else as it is (UTF-8).
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for (i, c) in text.char_indices() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            _ => out.extend_from_slice(&text.as_bytes()[i..i + c.len_utf8()]),
        }
    }
}

/// The result file in a format: the header before the first record, the
/// records as the workers (or `count`) formatted them, chunk by chunk, and
/// the end. Nothing is written before the first chunk or the commit, so a
/// job that fails before its output starts writes nothing, even to stdout.
#[derive(Debug)]
pub struct ResultWriter {
    output: Output,
    format: Format,
    started: bool,
    /// JSON: a record was written, so the next needs a comma before it.
    comma_due: bool,
}

impl ResultWriter {
    /// Writes `format` to `output`.
    pub fn new(output: Output, format: Format) -> ResultWriter {
        ResultWriter { output, format, started: false, comma_due: false }
    }

    /// Appends whole records, formatted by [`Format::push_record`].
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.start()?;
        if self.format != Format::Json || chunk.is_empty() {
            return self.output.write(chunk);
        }
        let Some(records) = chunk.strip_suffix(b",\n").filter(|_| chunk.ends_with(JSON_END)) else {
            return Err(Error::Conservation {
                phase: Phase::SortOutput,
                detail: "a chunk of JSON records does not end with a record".into(),
            });
        };
        if self.comma_due {
            self.output.write(b",\n")?;
        }
        self.comma_due = true;
        self.output.write(records)
    }

    /// Ends the result and makes it visible (see [`Output::commit`]).
    pub fn commit(mut self) -> Result<()> {
        self.start()?;
        match self.format {
            Format::Json if self.comma_due => self.output.write(b"\n]\n")?,
            Format::Json => self.output.write(b"]\n")?,
            _ => {}
        }
        self.output.commit()
    }

    fn start(&mut self) -> Result<()> {
        if !self.started {
            self.started = true;
            self.output.write(self.format.header())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(format: Format, entries: &[(&[u8], u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (word, count) in entries {
            format.push_record(&mut out, word, *count);
        }
        out
    }

    #[test]
    fn each_format_writes_one_line_per_record() {
        let entries: &[(&[u8], u64)] = &[(b"the", 64023), (b"a,\"b", 2), (b"caf\xe9", 1)];
        assert_eq!(records(Format::Txt, entries), b"the 64023\na,\"b 2\ncaf\xe9 1\n");
        assert_eq!(records(Format::Tsv, entries), b"the\t64023\na,\"b\t2\ncaf\xe9\t1\n");
        assert_eq!(records(Format::Csv, entries), b"the,64023\n\"a,\"\"b\",2\ncaf\\xe9,1\n");
        assert_eq!(
            records(Format::Json, entries),
            b"{\"word\": \"the\", \"count\": 64023},\n{\"word\": \"a,\\\"b\", \"count\": 2},\n{\"word\": \"caf\\\\xe9\", \"count\": 1},\n"
        );
        let mut out = Vec::new();
        Format::Json.push_record(&mut out, b"\x01\\", 1);
        assert_eq!(out, b"{\"word\": \"\\u0001\\\\\\\\\", \"count\": 1},\n");
    }

    #[test]
    fn escaping_is_reversible_and_leaves_plain_words_alone() {
        assert!(matches!(escape("caf\u{e9}".as_bytes()), Cow::Borrowed("caf\u{e9}")));
        assert_eq!(escape(b"a\\b"), "a\\\\b");
        assert_eq!(escape(b"\xff\xfeok\xc3"), "\\xff\\xfeok\\xc3");
        for word in
            [&b""[..], b"plain", b"\\xff", b"\xff", b"\\\\\xff\\", "\u{1F600}\u{e9}x".as_bytes(), b"\xf0\x9f\x98"]
        {
            assert_eq!(unescape(&escape(word)).as_deref(), Some(word), "{word:?}");
        }
        assert_eq!(unescape("\\"), None);
        assert_eq!(unescape("\\xg0"), None);
        assert_eq!(unescape("\\q"), None);
    }

    #[test]
    fn formats_round_trip_through_their_codes() {
        for f in [Format::Txt, Format::Tsv, Format::Csv, Format::Json] {
            assert_eq!(Format::from_code(f.code()), Some(f));
        }
        assert_eq!(Format::from_code(9), None);
    }

    #[test]
    fn the_writer_frames_json_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let write = |format: Format, chunks: &[Vec<u8>]| {
            let path = dir.path().join(format.name());
            let mut w = ResultWriter::new(Output::create(&path).unwrap(), format);
            for chunk in chunks {
                w.write(chunk).unwrap();
            }
            w.commit().unwrap();
            std::fs::read(&path).unwrap()
        };
        let one = records(Format::Json, &[(b"a", 2), (b"b", 1)]);
        let two = records(Format::Json, &[(b"c", 1)]);
        let json = write(Format::Json, &[one, Vec::new(), two]);
        assert_eq!(
            json,
            b"[\n{\"word\": \"a\", \"count\": 2},\n{\"word\": \"b\", \"count\": 1},\n{\"word\": \"c\", \"count\": 1}\n]\n"
        );
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[2]["word"], "c");
        assert_eq!(write(Format::Json, &[]), b"[\n]\n");
        assert_eq!(write(Format::Csv, &[]), b"word,count\n");
        assert_eq!(write(Format::Txt, &[]), b"");
        let path = dir.path().join("bad");
        let mut w = ResultWriter::new(Output::create(&path).unwrap(), Format::Json);
        assert!(w.write(b"{\"word\": \"a\"\n").is_err());
    }
}

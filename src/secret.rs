//! Where the shared secret comes from. `--secret-file F`, else the file
//! named by `WORDFREQ_SECRET_FILE`, else `~/.wordfreq/secret` when it exists
//! (as Erlang finds its cookie: a lab with a shared home needs no flag),
//! else none. `-` reads the secret from standard input (how `run` hands its
//! fresh per-job secret to its workers, off the command line). A secret
//! file must be private to its owner and hold at least `MIN_LEN` bytes;
//! surrounding whitespace (a trailing newline) is not part of it.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::wire::auth::Key;

/// The variable naming a secret file when no flag does.
pub const ENV: &str = "WORDFREQ_SECRET_FILE";
/// The shortest secret accepted, in bytes.
pub const MIN_LEN: usize = 16;
/// How to make a good one, for error messages and `--help`.
pub const HOW_TO_MAKE: &str =
    "mkdir -p ~/.wordfreq && head -c 32 /dev/urandom | base64 > ~/.wordfreq/secret && chmod 600 ~/.wordfreq/secret";

/// The key this node's connections prove, and where it came from.
#[derive(Clone, Debug)]
pub struct Secret {
    pub key: Key,
    /// The file it was read from (`-` for standard input); `None` without one.
    pub source: Option<PathBuf>,
}

impl Secret {
    /// No secret: the key of the empty secret (nodes without one only
    /// talk to each other).
    pub fn none() -> Secret {
        Secret { key: Key::derive(b""), source: None }
    }

    /// A fresh random secret for one `run`, and its text for the workers.
    pub fn fresh() -> Result<(Secret, String)> {
        let bytes = crate::wire::auth::fresh_nonce().map_err(|e| Error::io("cannot make a secret", e))?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let secret = Secret { key: Key::derive(text.as_bytes()), source: Some(PathBuf::from("-")) };
        Ok((secret, text))
    }

    /// True if a secret is configured.
    pub fn is_set(&self) -> bool {
        self.source.is_some()
    }

    /// The secret a command uses: the flag's file, else the variable's, else
    /// the default file if it exists, else none.
    pub fn load(flag: Option<&Path>) -> Result<Secret> {
        let from_env = std::env::var_os(ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path = match (flag, from_env) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(path)) => path,
            (None, None) => match default_path() {
                Some(path) if path.exists() => path,
                _ => return Ok(Secret::none()),
            },
        };
        let bytes = read(&path)?;
        Ok(Secret { key: Key::derive(&bytes), source: Some(path) })
    }
}

/// `~/.wordfreq/secret`, if there is a home.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| Path::new(&home).join(".wordfreq").join("secret"))
}

/// The secret's bytes from `path` (`-`: standard input), checked.
fn read(path: &Path) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::Usage(format!("secret file {}: {reason}", path.display()));
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().take(4096).read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
    } else {
        let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
        let mode = meta.permissions().mode();
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "readable by others (mode {:o}): anyone who can read it can run jobs; chmod 600 {}",
                mode & 0o777,
                path.display()
            )));
        }
        file.by_ref().take(4096).read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
    }
    let trimmed = bytes.trim_ascii();
    if trimmed.len() < MIN_LEN {
        return Err(bad(format!(
            "holds {} bytes; a secret needs at least {MIN_LEN} (make one: {HOW_TO_MAKE})",
            trimmed.len()
        )));
    }
    Ok(trimmed.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_private_file_gives_the_key_of_its_trimmed_text() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", "0123456789abcdef0123\n", 0o600);
        let b = write(dir.path(), "b", "  0123456789abcdef0123  ", 0o400);
        let (ka, kb) = (Secret::load(Some(&a)).unwrap(), Secret::load(Some(&b)).unwrap());
        let nonce = [7u8; 32];
        let proof = ka.key.proof(crate::wire::auth::Side::Dialer, &nonce, &nonce);
        assert!(kb.key.verify(crate::wire::auth::Side::Dialer, &nonce, &nonce, &proof));
        assert_eq!(ka.source.as_deref(), Some(a.as_path()));
    }

    #[test]
    fn shared_short_or_missing_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let shared = write(dir.path(), "shared", "0123456789abcdef0123", 0o644);
        let short = write(dir.path(), "short", "abc\n", 0o600);
        let err = |p: &Path| Secret::load(Some(p)).unwrap_err().to_string();
        assert!(err(&shared).contains("readable by others (mode 644)"), "{}", err(&shared));
        assert!(err(&short).contains("holds 3 bytes"), "{}", err(&short));
        assert!(err(&dir.path().join("none")).contains("No such file"));
        assert_eq!(Secret::load(Some(&short)).unwrap_err().exit_code(), 2);
    }
}

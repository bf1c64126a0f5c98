//! Records the git commit the binary is built from, as `WORDFREQ_COMMIT`
//! (`--version` and the metrics show it): 12 hex digits, or `unknown` when
//! the sources are not a git checkout (a release tarball) or git is absent.

use std::path::Path;
use std::process::Command;

/// What `git ARGS` prints, trimmed; `None` if it fails or prints nothing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if commit.is_some() {
        // Run again when HEAD moves: HEAD itself (another branch), the
        // branch it names, and the packed refs. Only files that exist are
        // named (a missing one would make every build run this again).
        let mut watched = Vec::new();
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            watched.push(format!("{dir}/HEAD"));
        }
        if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(format!("{common}/{branch}"));
            }
            watched.push(format!("{common}/packed-refs"));
        }
        for path in watched.iter().filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=WORDFREQ_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}

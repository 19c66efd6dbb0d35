//! Records the commit botrun is built from, for `botrun --version`.
//!
//! Order: the `BOTRUN_BUILD_COMMIT` variable (for builds from a source tarball or a packager's
//! tree without `.git`), then `git rev-parse HEAD` of the checkout, then `unknown`. Only the
//! files naming the current commit are watched, so editing sources does not rerun this script
//! and a new commit does.

use std::path::Path;
use std::process::Command;

const OVERRIDE: &str = "BOTRUN_BUILD_COMMIT";

fn main() {
    println!("cargo::rerun-if-env-changed={OVERRIDE}");
    // Without this, cargo would rerun the script after any edit in the package.
    println!("cargo::rerun-if-changed=build.rs");
    let commit = std::env::var(OVERRIDE)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .or_else(commit_from_git)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=BOTRUN_BUILD_COMMIT={commit}");
}

/// The checked-out commit (12 hex digits), or `None` outside a git checkout or without git.
fn commit_from_git() -> Option<String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git").args(args).current_dir(&manifest_dir).output().ok()?;
        if !output.status.success() {
            return None;
        }
        let text = String::from_utf8(output.stdout).ok()?;
        Some(text.trim().to_owned()).filter(|text| !text.is_empty())
    };
    // Only trust a repository whose top level is this crate: a crate unpacked inside some
    // other checkout (cargo's registry, a vendor folder) must not claim that checkout's commit.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), Path::new(&manifest_dir)) {
        return None;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    // Rerun when HEAD moves: HEAD itself (checkout of another branch), the branch's ref file
    // (a commit), and packed-refs (where `git gc` moves refs).
    // A missing file would make cargo rerun the script (and rebuild the crate) on every build,
    // so only existing ones are named.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in &watched {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            if Path::new(&file).exists() {
                println!("cargo::rerun-if-changed={file}");
            }
        }
    }
    Some(commit.chars().take(12).collect())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

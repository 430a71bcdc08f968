//! What the cost examples share: the binary's allocator (so they measure what it does), the
//! directory they are given with the scan's default context, and its gzip'd log files, sorted.

use std::path::{Path, PathBuf};

use denytrail_core::filter::Filter;
use denytrail_core::parse::ScanContext;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The directory named on the command line, and the context `denytrail scan` reads it with.
pub fn input() -> (PathBuf, ScanContext) {
    let dir = std::env::args().nth(1).expect("a directory");
    (PathBuf::from(dir), ScanContext::new(Filter::default(), 1, 1 << 32))
}

pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("a readable directory") {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(log_files(&path));
        } else if path.to_string_lossy().ends_with(".json.gz") {
            out.push(path);
        }
    }
    out.sort();
    out
}

//! The gzip'd log files under a directory, sorted: what the cost examples read.

use std::path::{Path, PathBuf};

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

//! Single-threaded gzip decompression throughput of one flate2 backend over a set of files held
//! in memory (so the disk is not measured). Prints `backend MB/s` where MB = 10^6 decompressed bytes.

use std::io::Read;
use std::time::Instant;

fn backend() -> &'static str {
    if cfg!(feature = "zlib-ng") {
        "zlib-ng"
    } else if cfg!(feature = "zlib-rs") {
        "zlib-rs"
    } else {
        "miniz_oxide"
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: gzip-backends DIR [ROUNDS]");
    let rounds: usize = std::env::args().nth(2).map_or(3, |r| r.parse().expect("rounds"));
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).expect("read_dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                files.push(std::fs::read(&path).expect("read"));
            }
        }
    }
    let compressed: usize = files.iter().map(Vec::len).sum();
    let mut out = vec![0u8; 1 << 20];
    let mut best = f64::MAX;
    let mut total = 0u64;
    for _ in 0..rounds {
        let start = Instant::now();
        total = 0;
        for f in &files {
            let mut d = flate2::bufread::MultiGzDecoder::new(&f[..]);
            loop {
                let n = d.read(&mut out).expect("valid gzip");
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{}\t{:.0} MB/s\t({} files, {:.1} MB compressed, {:.1} MB decompressed, best of {rounds})",
        backend(),
        total as f64 / 1e6 / best,
        files.len(),
        compressed as f64 / 1e6,
        total as f64 / 1e6
    );
}

//! The progress bar on stderr: only when stderr is a terminal and the user did not ask for quiet.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Default)]
struct Counts {
    listed: AtomicU64,
    done: AtomicU64,
    matched: AtomicU64,
}

/// Cheap to clone; every clone drives the same bar.
#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    counts: Arc<Counts>,
}

impl Progress {
    /// `objects`/`bytes` are what the listing knows so far; S3 listings add to them as they go.
    pub fn new(enabled: bool, objects: u64, bytes: u64) -> Self {
        let counts = Arc::new(Counts::default());
        counts.listed.store(objects, Relaxed);
        if !enabled {
            return Progress { bar: None, counts };
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(125));
        let p = Progress { bar: Some(bar), counts };
        p.refresh();
        p
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            let c = &self.counts;
            bar.set_message(format!(
                "objects {}/{} matched {}",
                c.done.load(Relaxed),
                c.listed.load(Relaxed),
                c.matched.load(Relaxed)
            ));
        }
    }

    /// More objects were listed (S3 listings are streamed).
    pub fn listed(&self, objects: u64, bytes: u64) {
        self.counts.listed.fetch_add(objects, Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc_length(bytes);
            self.refresh();
        }
    }

    pub fn object_done(&self, compressed: u64, matched: u64) {
        self.counts.done.fetch_add(1, Relaxed);
        self.counts.matched.fetch_add(matched, Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(compressed);
            self.refresh();
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

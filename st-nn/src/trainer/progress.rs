//! The progress bar: indicatif on a terminal (hidden otherwise), plus a summary line per
//! epoch printed either way.

use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(enabled: bool, epoch: usize, epochs: usize, batches: usize) -> Progress {
        if !enabled {
            return Progress { bar: None };
        }
        // Hidden when stderr is not a terminal (CI logs, pipes).
        let bar = ProgressBar::new(batches as u64);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise}]",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("epoch {}/{epochs}", epoch + 1));
        Progress { bar: Some(bar) }
    }

    pub(crate) fn update(&self, loss: f64, accuracy: f64, samples_per_sec: f64) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "loss {loss:.4} acc {:.2}% {samples_per_sec:.0} samples/s",
                100.0 * accuracy
            ));
            b.inc(1);
        }
    }

    pub(crate) fn finish(&self, line: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
            println!("{line}");
        }
    }
}

//! Samples of durations and the figures reported of them.

use std::time::Duration;

/// Durations measured for one metric.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn extend(&mut self, samples: impl IntoIterator<Item = Duration>) {
        self.0.extend(samples);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100).
    pub fn percentile(&self, p: f64) -> Duration {
        assert!(!self.0.is_empty(), "no samples to take a percentile of");
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p95(&self) -> Duration {
        self.percentile(95.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    pub fn into_vec(self) -> Vec<Duration> {
        self.0
    }
}

/// A duration in milliseconds, to the microsecond.
pub fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

/// `a - b` with its sign, in milliseconds.
pub fn difference(a: Duration, b: Duration) -> String {
    let delta = (a.as_secs_f64() - b.as_secs_f64()) * 1e3;
    format!("{delta:+.3} ms")
}

//! Background jobs of one instance (pruning, reloading keys, failing abandoned answers): each
//! runs at once, then at a fixed interval, for as long as its handle is kept.

use std::{future::Future, time::Duration};

/// A running job; it stops when this is dropped (or its runtime ends).
pub struct Upkeep(tokio::task::JoinHandle<()>);

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `job` now and then every `interval` on the current runtime. After a stall one run
/// catches up; a burst of runs would do no more.
pub fn every<F, Fut>(interval: Duration, mut job: F) -> Upkeep
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    Upkeep(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            job().await;
        }
    }))
}

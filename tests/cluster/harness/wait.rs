//! Waiting for a condition: poll it until a deadline, never a fixed sleep.

use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`; panics naming `what` and the
/// last state `f` described through `last` otherwise.
pub fn until<T>(what: &str, limit: Duration, mut f: impl FnMut(&mut String) -> Option<T>) -> T {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        if let Some(v) = f(&mut last) {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}; last seen: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

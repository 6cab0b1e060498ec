//! Bounded retries with jittered exponential backoff, for calls that failed
//! with 429, 5xx or a dropped connection.
//!
//! kube-rs's own retry layer is switched off (it retries up to 15 times with
//! delays of up to 1000 s); this one gives up after [`RetryPolicy::max_attempts`]
//! and never waits more than [`RetryPolicy::max_delay`] between attempts.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How often and how patiently a call is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry), with
    /// `jitter` in `[0, 1]`: the exponential step `base * 2^(retry-1)`, capped
    /// at `max_delay`, of which the upper half is scaled by the jitter, so
    /// concurrent clients spread out but never retry immediately.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let step = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = step / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Where the waiting between attempts happens: real time in production, a
/// recorded sequence in tests.
pub(crate) trait Pause: Send {
    /// Waits `delay`.
    fn pause(&mut self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// A jitter value in `[0, 1]`.
    fn jitter(&mut self) -> f64;
}

/// Real waiting on the tokio clock, jitter from the operating system's
/// random source.
#[derive(Debug, Default)]
pub(crate) struct TokioPause;

impl Pause for TokioPause {
    fn pause(&mut self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(delay))
    }

    fn jitter(&mut self) -> f64 {
        let mut bytes = [0u8; 4];
        match getrandom::fill(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            // No random source: a fixed middle value still backs off.
            Err(_) => 0.5,
        }
    }
}

/// A call that failed for good, with the number of attempts made.
#[derive(Debug)]
pub(crate) struct GaveUp<E> {
    /// The last error.
    pub error: E,
    /// Attempts made (1 when the error was not retryable).
    pub attempts: u32,
}

/// Runs `op` until it succeeds, fails with an error `retryable` refuses, or
/// `policy.max_attempts` attempts were made.
pub(crate) async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    pause: &mut dyn Pause,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < policy.max_attempts && retryable(&error) => {
                let jitter = pause.jitter();
                pause.pause(policy.delay(attempt, jitter)).await;
                attempt += 1;
            }
            Err(error) => {
                return Err(GaveUp {
                    error,
                    attempts: attempt,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Records the delays instead of waiting.
    struct Recorded {
        delays: Vec<Duration>,
        jitter: f64,
    }

    impl Pause for Recorded {
        fn pause(&mut self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            self.delays.push(delay);
            Box::pin(async {})
        }
        fn jitter(&mut self) -> f64 {
            self.jitter
        }
    }

    fn run(
        outcomes: &[Result<u32, u16>],
        jitter: f64,
    ) -> (Result<u32, GaveUp<u16>>, Vec<Duration>, usize) {
        let mut pause = Recorded {
            delays: Vec::new(),
            jitter,
        };
        let calls = Cell::new(0usize);
        let result = futures::executor::block_on(retry(
            &RetryPolicy::default(),
            &mut pause,
            |code: &u16| *code >= 500,
            || {
                let n = calls.get();
                calls.set(n + 1);
                let outcome = outcomes.get(n).copied().unwrap_or(Err(599));
                async move { outcome }
            },
        ));
        (result, pause.delays, calls.get())
    }

    #[test]
    fn success_after_two_server_errors_is_returned() {
        let (result, delays, calls) = run(&[Err(503), Err(500), Ok(7)], 0.0);
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls, 3);
        assert_eq!(
            delays,
            vec![Duration::from_millis(50), Duration::from_millis(100)]
        );
    }

    #[test]
    fn non_retryable_error_stops_at_once() {
        let (result, delays, calls) = run(&[Err(409), Ok(1)], 0.5);
        let gave_up = result.err().map(|g| (g.error, g.attempts));
        assert_eq!(gave_up, Some((409, 1)));
        assert_eq!(calls, 1);
        assert!(delays.is_empty());
    }

    #[test]
    fn retries_stop_after_five_attempts() {
        let (result, delays, calls) = run(&[Err(503); 9], 1.0);
        let gave_up = result.err().map(|g| (g.error, g.attempts));
        assert_eq!(gave_up, Some((503, 5)));
        assert_eq!(calls, 5);
        assert_eq!(
            delays,
            vec![
                Duration::from_millis(100),
                Duration::from_millis(200),
                Duration::from_millis(400),
                Duration::from_millis(800),
            ]
        );
    }

    #[test]
    fn delay_never_exceeds_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(30, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay(30, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_moves_the_delay_within_the_upper_half() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(policy.delay(3, 0.5), Duration::from_millis(300));
        assert_eq!(policy.delay(3, 1.0), Duration::from_millis(400));
    }
}

//! CPU-bound work on untrusted input (parsing feeds, extracting pages, analysing text), kept off
//! the async threads: a hostile page may take a while even when bounded, and the threads that
//! answer `/healthz`, the API and the watchdog must never wait behind it.
//!
//! Work runs on tokio's blocking pool, at most one job per core at a time (more would only
//! time-slice the same cores and delay every job); the rest wait their turn asynchronously.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

/// Jobs running at once: the machine's cores.
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Semaphore::new(cores)
    })
}

/// A job that did not finish: it panicked (a bug, contained here rather than taking down the
/// poll) or the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("CPU job `{what}` did not finish: {why}")]
pub struct JobFailed {
    pub what: &'static str,
    pub why: String,
}

/// Runs `f` on the blocking pool once a slot is free.
pub async fn run<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobFailed> {
    let failed = |why: String| JobFailed { what, why };
    let _slot = slots().acquire().await.map_err(|e| failed(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "current_thread")]
    async fn the_async_thread_stays_free_while_jobs_run() {
        // On a single async thread, a job that blocked it would stop the ticker below.
        let job = tokio::spawn(run("sleep", || {
            std::thread::sleep(Duration::from_millis(300))
        }));
        let started = Instant::now();
        let mut ticks = 0;
        while !job.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks += 1;
        }
        assert!(job.await.expect("joined").is_ok());
        assert!(ticks >= 10, "{ticks} ticks in {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_crash() {
        let r = run("panic", || -> u8 { panic!("bug") }).await;
        assert!(r.is_err());
    }
}

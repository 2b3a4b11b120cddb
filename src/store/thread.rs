//! A store thread: one OS thread that owns some SQLite state (a connection, or tables over one)
//! and runs the jobs async code sends it, one at a time, each answered on a oneshot. It is how
//! the server reaches the tables written outside the event writer (tokens, devices, pairing
//! codes) without a query ever running on an async worker: the handler awaits the answer.
//!
//! Must never: be waited for on an async worker other than through [`StoreThread::run`]'s
//! future, or keep running after the last handle is dropped.

use std::sync::mpsc;

use actors::store::StoreError;
use tokio::sync::oneshot;

/// A job for the thread: runs on the state, answers on its own channel.
type Job<T> = Box<dyn FnOnce(&mut T) + Send>;

/// The handle to one store thread owning a `T`. Cloning it shares the thread.
pub struct StoreThread<T> {
    jobs: mpsc::Sender<Job<T>>,
    name: &'static str,
}

impl<T> Clone for StoreThread<T> {
    fn clone(&self) -> Self {
        StoreThread {
            jobs: self.jobs.clone(),
            name: self.name,
        }
    }
}

impl<T: 'static> StoreThread<T> {
    /// Starts the thread `name`, which makes its state with `open` (so opening and migrating the
    /// file runs there too) and then runs jobs until every handle is dropped. Waits for `open`:
    /// meant for start-up, and for the commands.
    pub fn start<E>(
        name: &'static str,
        open: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<StoreThread<T>, E>
    where
        E: From<StoreError> + Send + 'static,
    {
        let (jobs, inbox) = mpsc::channel::<Job<T>>();
        let (opened, outcome) = mpsc::sync_channel::<Result<(), E>>(1);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut state = match open() {
                    Ok(state) => state,
                    Err(error) => {
                        let _ = opened.send(Err(error));
                        return;
                    }
                };
                let _ = opened.send(Ok(()));
                for job in inbox {
                    job(&mut state);
                }
            })
            .map_err(|e| StoreError::failed(format!("cannot start the store thread {name}"), e))?;
        outcome.recv().unwrap_or_else(|_| {
            Err(StoreError::unavailable(format!("{name} did not start")).into())
        })?;
        Ok(StoreThread { jobs, name })
    }

    /// Runs `job` on the thread and answers what it returns. Only waiting happens here.
    pub async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job: Job<T> = Box::new(move |state| {
            let _ = answer.send(job(state));
        });
        let stopped = || StoreError::unavailable(format!("the store thread {} stopped", self.name));
        self.jobs.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_in_order_on_the_thread_that_owns_the_state() {
        let thread = StoreThread::start("store-test", || {
            Ok::<_, StoreError>((Vec::new(), std::thread::current().id()))
        })
        .expect("started");
        for n in 0..3 {
            thread
                .run(move |(seen, _)| seen.push(n))
                .await
                .expect("ran");
        }
        let (seen, owner) = thread
            .run(|(seen, owner)| (seen.clone(), *owner))
            .await
            .expect("ran");
        assert_eq!(seen, vec![0, 1, 2]);
        assert_ne!(owner, std::thread::current().id());
        let refused =
            StoreThread::<()>::start("store-test", || Err(StoreError::unavailable("no file")));
        assert!(refused.is_err());
    }
}

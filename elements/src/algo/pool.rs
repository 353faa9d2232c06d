//! A small pool of worker threads that each own some state (a set of detectors) and work
//! on submitted items concurrently, handing results back in submission order.
//!
//! `redactdetect` uses it to run the models on several frames at once, one frame per
//! worker: on a few cores that keeps every core busy without the per-operator
//! synchronisation that splitting one model run across threads costs, and the stream's own
//! thread meanwhile masks and encodes the frames already done.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A worker panicked while working on an item; its message.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPanic(pub String);

type Outcome<O> = Result<O, WorkerPanic>;

pub struct OrderedPool<I, O> {
    jobs: Option<Sender<(u64, I)>>,
    results: Receiver<(u64, Outcome<O>)>,
    /// Results that came back before an older one.
    early: BTreeMap<u64, Outcome<O>>,
    submitted: u64,
    returned: u64,
    workers: Vec<JoinHandle<()>>,
}

impl<I: Send + 'static, O: Send + 'static> OrderedPool<I, O> {
    /// One worker thread per state; `work` runs on a worker with that worker's state.
    pub fn new<S, F>(name: &str, states: Vec<S>, work: F) -> std::io::Result<OrderedPool<I, O>>
    where
        S: Send + 'static,
        F: Fn(&mut S, I) -> O + Send + Sync + 'static,
    {
        let (jobs, queue) = channel::<(u64, I)>();
        let (done, results) = channel();
        let queue = Arc::new(Mutex::new(queue));
        let work = Arc::new(work);
        let mut workers = Vec::with_capacity(states.len());
        for (n, mut state) in states.into_iter().enumerate() {
            let (queue, done, work) = (queue.clone(), done.clone(), work.clone());
            let worker = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next item.
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((seq, item)) = next else { break };
                        let outcome = catch_unwind(AssertUnwindSafe(|| work(&mut state, item)))
                            .map_err(|e| {
                                WorkerPanic(
                                    e.downcast_ref::<&str>()
                                        .map(|s| s.to_string())
                                        .or_else(|| e.downcast_ref::<String>().cloned())
                                        .unwrap_or_else(|| "unknown panic".into()),
                                )
                            });
                        if done.send((seq, outcome)).is_err() {
                            break;
                        }
                    }
                })?;
            workers.push(worker);
        }
        Ok(OrderedPool {
            jobs: Some(jobs),
            results,
            early: BTreeMap::new(),
            submitted: 0,
            returned: 0,
            workers,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Items submitted and not yet returned.
    pub fn in_flight(&self) -> usize {
        (self.submitted - self.returned) as usize
    }

    pub fn submit(&mut self, item: I) {
        let seq = self.submitted;
        self.submitted += 1;
        if let Some(jobs) = &self.jobs
            && jobs.send((seq, item)).is_ok()
        {
            return;
        }
        // No worker left to take it (cannot happen while the pool lives): report it.
        self.early.insert(
            seq,
            Err(WorkerPanic("the worker threads have stopped".into())),
        );
    }

    /// The oldest item's result if it is done (`block`: wait for it); None when nothing is
    /// in flight, or (not blocking) when the oldest is still being worked on.
    pub fn next(&mut self, block: bool) -> Option<Outcome<O>> {
        if self.in_flight() == 0 {
            return None;
        }
        loop {
            if let Some(outcome) = self.early.remove(&self.returned) {
                self.returned += 1;
                return Some(outcome);
            }
            let received = if block {
                self.results.recv().ok()
            } else {
                self.results.try_recv().ok()
            };
            match received {
                Some((seq, outcome)) => {
                    self.early.insert(seq, outcome);
                }
                None if block => {
                    // Every worker is gone: the oldest will never come.
                    self.returned += 1;
                    return Some(Err(WorkerPanic("the worker threads have stopped".into())));
                }
                None => return None,
            }
        }
    }

    /// Forgets everything in flight (a flush): results still being worked on are dropped
    /// when they arrive.
    pub fn discard(&mut self) {
        while self.in_flight() > 0 {
            let _ = self.next(true);
        }
    }
}

impl<I, O> Drop for OrderedPool<I, O> {
    fn drop(&mut self) {
        // Closing the queue ends each worker after its current item.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_back_in_submission_order() {
        // Early items take longest, so later ones finish first.
        let mut pool = OrderedPool::new("test", vec![0u32; 3], |count, (i, ms): (u32, u64)| {
            std::thread::sleep(Duration::from_millis(ms));
            *count += 1;
            i * 10
        })
        .unwrap();
        assert_eq!(pool.workers(), 3);
        for (i, ms) in [(0, 60), (1, 30), (2, 1), (3, 1), (4, 20)] {
            pool.submit((i, ms));
        }
        assert_eq!(pool.in_flight(), 5);
        let out: Vec<u32> = std::iter::from_fn(|| pool.next(true))
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, [0, 10, 20, 30, 40]);
        assert_eq!(pool.in_flight(), 0);
        assert!(pool.next(true).is_none());
    }

    #[test]
    fn non_blocking_next_waits_for_the_oldest() {
        let mut pool = OrderedPool::new("test", vec![(); 2], |_, ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        })
        .unwrap();
        pool.submit(200);
        pool.submit(0);
        std::thread::sleep(Duration::from_millis(50));
        // The second is done, but the first is not: nothing may come out yet.
        assert!(pool.next(false).is_none());
        assert_eq!(pool.next(true), Some(Ok(200)));
        assert_eq!(pool.next(false), Some(Ok(0)));
    }

    #[test]
    fn each_worker_keeps_its_own_state() {
        let mut pool = OrderedPool::new(
            "test",
            vec![Vec::new(), Vec::new()],
            |seen: &mut Vec<u32>, i| {
                seen.push(i);
                std::thread::sleep(Duration::from_millis(5));
                seen.len()
            },
        )
        .unwrap();
        for i in 0..20 {
            pool.submit(i);
        }
        let counts: Vec<usize> = std::iter::from_fn(|| pool.next(true))
            .map(Result::unwrap)
            .collect();
        // Each worker counts only its own items: the two counts together reach 20.
        assert_eq!(counts.len(), 20);
        assert!(counts.iter().max().unwrap() < &20, "{counts:?}");
    }

    #[test]
    fn a_panicking_item_is_reported_and_the_pool_goes_on() {
        let mut pool = OrderedPool::new("test", vec![()], |_, i: u32| {
            assert!(i != 1, "item one is bad");
            i
        })
        .unwrap();
        for i in 0..3 {
            pool.submit(i);
        }
        assert_eq!(pool.next(true), Some(Ok(0)));
        let err = pool.next(true).unwrap().unwrap_err();
        assert!(err.0.contains("item one is bad"), "{err:?}");
        assert_eq!(pool.next(true), Some(Ok(2)));
    }

    #[test]
    fn discard_empties_the_pool() {
        let mut pool = OrderedPool::new("test", vec![(); 2], |_, i: u32| i).unwrap();
        for i in 0..5 {
            pool.submit(i);
        }
        pool.discard();
        assert_eq!(pool.in_flight(), 0);
        pool.submit(7);
        assert_eq!(pool.next(true), Some(Ok(7)));
    }
}

//! The engine's bounded hand-off queues (reader → worker, worker → merge),
//! with one producer and one consumer each, that wake the other side only
//! when it sleeps, and a full queue's producer only once the queue has
//! drained to `resume_at`.
//!
//! Why not a general channel: the side that is ahead waits on every item.
//! With one worker the reader fills the worker's queue and then, on a
//! channel that wakes a blocked sender for each free slot, sleeps and wakes
//! once per batch (a futex wait and wake, after a few `sched_yield` spins);
//! here it sleeps until the worker has room for `cap - resume_at` batches
//! and refills them in one go (with several workers the engine wakes the
//! reader at the first free slot instead: see `reader_resume_at`). Nothing
//! spins: a side that finds nothing to do sleeps at once, and is woken by a
//! flag, never by a timer. Memory stays bounded by `cap` items and the
//! order is the queue's.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    cap: usize,
    resume_at: usize,
    /// The producer sleeps until `items.len() <= resume_at`.
    send_waiting: bool,
    /// The consumer sleeps until an item comes.
    recv_waiting: bool,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// The producer waits here for room.
    room: Condvar,
    /// The consumer waits here for items.
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock only means the other side panicked; the engine
        // reports the crash when it joins the thread.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why [`Sender::try_send`] did not queue the item (which comes back).
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Disconnected(T),
}

/// The receiver is gone.
#[derive(Debug, PartialEq, Eq)]
pub struct Disconnected;

/// A queue of at most `cap` items whose full producer sleeps until only
/// `resume_at` are left (`resume_at < cap`).
pub fn bounded<T>(cap: usize, resume_at: usize) -> (Sender<T>, Receiver<T>) {
    let cap = cap.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(cap),
            cap,
            resume_at: resume_at.min(cap - 1),
            send_waiting: false,
            recv_waiting: false,
            sender_gone: false,
            receiver_gone: false,
        }),
        room: Condvar::new(),
        ready: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

/// The producing side (one thread).
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `item` unless the queue is full.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let s = self.shared.lock();
        if s.receiver_gone {
            return Err(TrySendError::Disconnected(item));
        }
        if s.items.len() >= s.cap {
            return Err(TrySendError::Full(item));
        }
        self.push(s, item);
        Ok(())
    }

    /// Queues `item`; a full queue is waited on until it has drained to
    /// `resume_at`. Gives the item back if the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        let mut s = self.shared.lock();
        if s.items.len() >= s.cap {
            while !s.receiver_gone && s.items.len() > s.resume_at {
                s.send_waiting = true;
                s = self.shared.room.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.send_waiting = false;
        }
        if s.receiver_gone {
            return Err(item);
        }
        self.push(s, item);
        Ok(())
    }

    fn push(&self, mut s: MutexGuard<'_, State<T>>, item: T) {
        s.items.push_back(item);
        let wake = std::mem::take(&mut s.recv_waiting);
        drop(s);
        if wake {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.sender_gone = true;
        let wake = std::mem::take(&mut s.recv_waiting);
        drop(s);
        if wake {
            self.shared.ready.notify_one();
        }
    }
}

/// The consuming side (one thread).
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item, waiting for it; `Err` once the queue is empty and the
    /// sender gone.
    pub fn recv(&self) -> Result<T, Disconnected> {
        let mut s = self.shared.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                let wake = s.send_waiting && s.items.len() <= s.resume_at;
                if wake {
                    s.send_waiting = false;
                }
                drop(s);
                if wake {
                    self.shared.room.notify_one();
                }
                return Ok(item);
            }
            if s.sender_gone {
                return Err(Disconnected);
            }
            s.recv_waiting = true;
            s = self.shared.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.receiver_gone = true;
        // What is queued goes now, on this side, not with the last handle.
        let items = std::mem::take(&mut s.items);
        let wake = std::mem::take(&mut s.send_waiting);
        drop(s);
        if wake {
            self.shared.room.notify_one();
        }
        drop(items);
    }
}

impl<T> Iterator for Receiver<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn items_arrive_in_order_and_a_full_producer_resumes_at_the_low_mark() {
        let (tx, rx) = bounded::<u32>(4, 1);
        let consumer = std::thread::spawn(move || rx.collect::<Vec<_>>());
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(consumer.join().unwrap(), (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_queue_refuses_try_send_and_takes_the_item_once_drained() {
        let (tx, rx) = bounded::<u32>(2, 0);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.recv(), Ok(1));
        // One free slot, but the producer of a full queue would wait for 0 left;
        // try_send takes any free slot.
        tx.try_send(3).unwrap();
        let sender = std::thread::spawn(move || {
            // Full: waits until the consumer has taken both.
            tx.send(4).unwrap();
            tx
        });
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Ok(3));
        assert_eq!(rx.recv(), Ok(4));
        let tx = sender.join().unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Err(Disconnected));
    }

    #[test]
    fn a_gone_receiver_frees_a_waiting_producer_and_drops_what_was_queued() {
        let (tx, rx) = bounded::<Arc<u32>>(1, 0);
        let item = Arc::new(7);
        tx.send(Arc::clone(&item)).unwrap();
        let sender = std::thread::spawn(move || tx.send(Arc::new(8)).is_err());
        drop(rx);
        assert!(sender.join().unwrap());
        assert_eq!(Arc::strong_count(&item), 1);
        let (tx, rx) = bounded::<u32>(1, 0);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Disconnected(1)));
    }
}

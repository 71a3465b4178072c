//! [`tick_queue`]: the bounded queue from the subscriptions module to one
//! [`SubscriptionStream`](crate::SubscriptionStream).
//!
//! The tick path's channel, in place of a tokio mpsc channel: a send takes one
//! uncontended lock around a `VecDeque` (no semaphore, no block list), the receiver takes
//! everything queued when that is a small batch (up to a quarter of the capacity, at most
//! 64; else one tick) under one lock and hands it out without locking, and each side wakes the other only when it waits. The ticks the
//! receiver took count against the capacity until it comes back for more (a stream does
//! as soon as it has handed them out), so the buffer stays bounded by the capacity, and a
//! reader that pauses right after a batch makes the buffer look at most that batch
//! fuller than it is. Semantics are the ones the module relies on: a
//! bounded buffer, `try_send` that says full or closed, an async `send` that waits for
//! room (the module bounds it with the stall timeout), the end of the stream once every
//! sender is gone and the buffer is drained, and closed for the senders once the receiver
//! is dropped.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::types::Tick;

/// The most ticks the receiver takes at one visit.
const MAX_BATCH: usize = 64;

/// A bounded queue of ticks with one receiver; `capacity` is at least 1.
pub(crate) fn tick_queue(capacity: usize) -> (TickSender, TickReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            taken: 0,
            senders: 1,
            receiver_alive: true,
            receiver: None,
            waiting_senders: Vec::new(),
        }),
    });
    (
        TickSender {
            shared: shared.clone(),
        },
        TickReceiver {
            shared,
            taken: VecDeque::new(),
            batch: (capacity / 4).clamp(1, MAX_BATCH),
        },
    )
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section below leaves the state consistent.
        core_pre::runtime::lock(&self.state)
    }
}

struct State {
    items: VecDeque<Tick>,
    capacity: usize,
    /// How many ticks the receiver took at its last visit: they count against the
    /// capacity until its next one.
    taken: usize,
    senders: usize,
    receiver_alive: bool,
    /// The receiver, waiting for a tick.
    receiver: Option<Waker>,
    /// Senders waiting for room.
    waiting_senders: Vec<Waker>,
}

impl State {
    fn is_full(&self) -> bool {
        self.items.len() + self.taken >= self.capacity
    }
}

/// Why [`TickSender::try_send`] did not queue the tick.
#[derive(Debug)]
pub(crate) enum TrySendError {
    /// The buffer is full: the tick is handed back.
    Full(Tick),
    /// The receiver is gone.
    Closed,
}

/// The receiver is gone.
#[derive(Debug)]
pub(crate) struct Closed;

/// The sending side; clones share the queue.
pub(crate) struct TickSender {
    shared: Arc<Shared>,
}

impl TickSender {
    /// Queues `tick` if there is room, without waiting.
    pub(crate) fn try_send(&self, tick: Tick) -> Result<(), TrySendError> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(TrySendError::Closed);
        }
        if state.is_full() {
            return Err(TrySendError::Full(tick));
        }
        state.items.push_back(tick);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Ok(())
    }

    /// Queues `tick`, waiting for room as long as it takes (callers bound it with a
    /// timeout; dropping the future leaves the queue untouched).
    pub(crate) async fn send(&self, tick: Tick) -> Result<(), Closed> {
        let mut tick = Some(tick);
        poll_fn(|cx| self.poll_send(cx, &mut tick)).await
    }

    fn poll_send(&self, cx: &mut Context<'_>, tick: &mut Option<Tick>) -> Poll<Result<(), Closed>> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Poll::Ready(Err(Closed));
        }
        if state.is_full() {
            if !state
                .waiting_senders
                .iter()
                .any(|w| w.will_wake(cx.waker()))
            {
                state.waiting_senders.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        if let Some(tick) = tick.take() {
            state.items.push_back(tick);
        }
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Clone for TickSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        TickSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for TickSender {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let receiver = if state.senders == 0 {
            state.receiver.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
    }
}

/// The receiving side.
pub(crate) struct TickReceiver {
    shared: Arc<Shared>,
    /// What it took at its last visit, not handed out yet.
    taken: VecDeque<Tick>,
    /// How many it takes at one visit.
    batch: usize,
}

impl TickReceiver {
    /// The next tick; `None` once every sender is gone and the buffer is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Tick>> {
        if let Some(tick) = self.taken.pop_front() {
            return Poll::Ready(Some(tick));
        }
        let mut state = self.shared.lock();
        // Everything taken last time is handed out: its room goes back to the senders.
        let was_full = state.is_full();
        if state.items.len() <= self.batch {
            // The usual case, the reader keeping up: everything, by swapping buffers.
            std::mem::swap(&mut state.items, &mut self.taken);
        } else if let Some(tick) = state.items.pop_front() {
            // Far behind: one at a time, so the room given back stays exact.
            self.taken.push_back(tick);
        }
        state.taken = self.taken.len();
        let waiting = if was_full && !state.is_full() {
            std::mem::take(&mut state.waiting_senders)
        } else {
            Vec::new()
        };
        let next = match self.taken.pop_front() {
            Some(tick) => Poll::Ready(Some(tick)),
            None if state.senders == 0 => Poll::Ready(None),
            None => {
                if !state
                    .receiver
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.receiver = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        };
        drop(state);
        waiting.into_iter().for_each(Waker::wake);
        next
    }
}

impl Drop for TickReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        let items = std::mem::take(&mut state.items);
        let waiting = std::mem::take(&mut state.waiting_senders);
        drop(state);
        drop(items);
        waiting.into_iter().for_each(Waker::wake);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tick(n: u32) -> Tick {
        Tick {
            asset: Arc::from("X"),
            time: f64::from(n),
            price: 1.0,
        }
    }

    async fn recv(rx: &mut TickReceiver) -> Option<Tick> {
        poll_fn(|cx| rx.poll_recv(cx)).await
    }

    #[tokio::test]
    async fn ticks_arrive_in_order_up_to_the_capacity() {
        let (tx, mut rx) = tick_queue(2);
        tx.try_send(tick(1)).unwrap();
        tx.try_send(tick(2)).unwrap();
        match tx.try_send(tick(3)) {
            Err(TrySendError::Full(t)) => assert_eq!(t.time, 3.0),
            other => panic!("{other:?}"),
        }
        assert_eq!(recv(&mut rx).await.unwrap().time, 1.0);
        // The receiver took both: they count until it comes back for more.
        assert!(matches!(tx.try_send(tick(3)), Err(TrySendError::Full(_))));
        assert_eq!(recv(&mut rx).await.unwrap().time, 2.0);
        let nothing = futures::FutureExt::now_or_never(recv(&mut rx));
        assert!(nothing.is_none(), "empty: the receiver waits");
        tx.try_send(tick(3)).unwrap();
        tx.try_send(tick(4)).unwrap();
        assert_eq!(recv(&mut rx).await.unwrap().time, 3.0);
        assert_eq!(recv(&mut rx).await.unwrap().time, 4.0);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_task() {
        let (tx, mut rx) = tick_queue(4);
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.try_send(tick(7)).unwrap();
            tx
        });
        let got = tokio::time::timeout(Duration::from_secs(5), recv(&mut rx)).await;
        assert_eq!(got.unwrap().unwrap().time, 7.0);
        drop(sender.await.unwrap());
        let end = tokio::time::timeout(Duration::from_secs(5), recv(&mut rx)).await;
        assert!(end.unwrap().is_none(), "every sender gone: the stream ends");
    }

    #[tokio::test]
    async fn send_waits_for_room_and_gives_up_when_the_receiver_goes() {
        let (tx, mut rx) = tick_queue(1);
        tx.try_send(tick(1)).unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(30), tx.send(tick(2))).await;
        assert!(blocked.is_err(), "full: send waits");
        let clone = tx.clone();
        let waiting = tokio::spawn(async move { clone.send(tick(2)).await.is_ok() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(recv(&mut rx).await.unwrap().time, 1.0);
        // Coming back for more gives the room back: the waiting send goes through.
        let next = tokio::time::timeout(Duration::from_secs(5), recv(&mut rx)).await;
        assert_eq!(next.unwrap().unwrap().time, 2.0);
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(
            sent.unwrap().unwrap(),
            "room made: the waiting send went through"
        );

        let (tx, rx) = tick_queue(1);
        tx.try_send(tick(3)).unwrap();
        let clone = tx.clone();
        let waiting = tokio::spawn(async move { clone.send(tick(4)).await.is_err() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        let closed = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(
            closed.unwrap().unwrap(),
            "receiver dropped: the waiting send fails"
        );
        assert!(matches!(tx.try_send(tick(5)), Err(TrySendError::Closed)));
    }

    #[tokio::test]
    async fn buffered_ticks_are_delivered_before_the_end() {
        let (tx, mut rx) = tick_queue(8);
        let clone = tx.clone();
        tx.try_send(tick(1)).unwrap();
        drop(tx);
        clone.try_send(tick(2)).unwrap();
        drop(clone);
        assert_eq!(recv(&mut rx).await.unwrap().time, 1.0);
        assert_eq!(recv(&mut rx).await.unwrap().time, 2.0);
        assert!(recv(&mut rx).await.is_none());
    }
}

//! [`tick_queue`]: the bounded queue from the subscriptions module to one
//! [`SubscriptionStream`](crate::SubscriptionStream).
//!
//! The tick path's channel, in place of a tokio mpsc channel: a send and a receive each
//! take one uncontended lock around a `VecDeque` (no semaphore, no block list), and wake
//! the other side only when it waits. Semantics are the ones the module relies on: a
//! bounded buffer, `try_send` that says full or closed, an async `send` that waits for
//! room (the module bounds it with the stall timeout), the end of the stream once every
//! sender is gone and the buffer is drained, and closed for the senders once the receiver
//! is dropped.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::types::Tick;

/// A bounded queue of ticks with one receiver; `capacity` is at least 1.
pub(crate) fn tick_queue(capacity: usize) -> (TickSender, TickReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: capacity.max(1),
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
        TickReceiver { shared },
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
    senders: usize,
    receiver_alive: bool,
    /// The receiver, waiting for a tick.
    receiver: Option<Waker>,
    /// Senders waiting for room.
    waiting_senders: Vec<Waker>,
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
        if state.items.len() >= state.capacity {
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
        if state.items.len() >= state.capacity {
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
}

impl TickReceiver {
    /// The next tick; `None` once every sender is gone and the buffer is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Tick>> {
        let mut state = self.shared.lock();
        let was_full = state.items.len() >= state.capacity;
        match state.items.pop_front() {
            Some(tick) => {
                let waiting = if was_full {
                    std::mem::take(&mut state.waiting_senders)
                } else {
                    Vec::new()
                };
                drop(state);
                waiting.into_iter().for_each(Waker::wake);
                Poll::Ready(Some(tick))
            }
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
        }
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
        tx.try_send(tick(3)).unwrap();
        assert_eq!(recv(&mut rx).await.unwrap().time, 2.0);
        assert_eq!(recv(&mut rx).await.unwrap().time, 3.0);
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
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(
            sent.unwrap().unwrap(),
            "room made: the waiting send went through"
        );
        assert_eq!(recv(&mut rx).await.unwrap().time, 2.0);

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

//! A module's inbox: the bounded queue from the router (the one sender) to one module.
//!
//! It is a `VecDeque` behind a mutex with one waker for each side, rather than a general
//! channel: there is exactly one sender (the router, in the reader task) and one receiver
//! (the module), so a message costs one uncontended lock, a push and a pop, and a module
//! that is busy when its messages arrive costs no wake-up. The queue allocates nothing
//! until the first message arrives, so an idle module's inbox is a few dozen bytes.
//!
//! The router waits for room only on its slow path ([`InboxSender::send`], bounded by the
//! stall timeout, see the [router](crate::router)); the hot path is
//! [`InboxSender::try_send`].

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use crate::message::Message;
use crate::runtime;

/// Opens an inbox holding at most `capacity` messages (at least one).
pub(crate) fn channel(capacity: usize) -> (InboxSender, Inbox) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            receiver: None,
            sender: None,
            sender_gone: false,
            receiver_gone: false,
        }),
    });
    (
        InboxSender {
            shared: shared.clone(),
        },
        Inbox { shared },
    )
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        runtime::lock(&self.state)
    }
}

struct State {
    queue: VecDeque<Message>,
    capacity: usize,
    /// The module, waiting for a message.
    receiver: Option<Waker>,
    /// The router, waiting for room.
    sender: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl State {
    /// Takes the router's waker if it waits and there is room now.
    fn room_made(&mut self) -> Option<Waker> {
        if self.queue.len() < self.capacity {
            self.sender.take()
        } else {
            None
        }
    }
}

/// Stores `waker` in `slot` unless the one there already wakes the same task.
fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(current) if current.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// Why [`InboxSender::try_send`] gave the message back.
#[derive(Debug)]
pub(crate) enum TrySendError {
    /// The inbox holds `capacity` messages.
    Full(Message),
    /// The module is gone (its inbox was dropped); the message was dropped.
    Closed,
}

/// The router's side of an inbox.
pub(crate) struct InboxSender {
    shared: Arc<Shared>,
}

impl InboxSender {
    /// Queues `msg` if there is room, without waiting.
    #[inline(always)]
    pub(crate) fn try_send(&self, msg: Message) -> Result<(), TrySendError> {
        let mut state = self.shared.lock();
        if state.receiver_gone {
            return Err(TrySendError::Closed);
        }
        if state.queue.len() >= state.capacity {
            return Err(TrySendError::Full(msg));
        }
        state.queue.push_back(msg);
        let waiting = state.receiver.take();
        drop(state);
        if let Some(module) = waiting {
            module.wake();
        }
        Ok(())
    }

    /// Waits for room and queues `msg`; gives it back when the module is gone. Dropping
    /// the future (a timeout) drops the message.
    pub(crate) async fn send(&self, msg: Message) -> Result<(), Message> {
        let mut msg = Some(msg);
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            let Some(next) = msg.take() else {
                // Polled again after it finished: nothing left to send.
                return Poll::Ready(Ok(()));
            };
            if state.receiver_gone {
                return Poll::Ready(Err(next));
            }
            if state.queue.len() < state.capacity {
                state.queue.push_back(next);
                let waiting = state.receiver.take();
                drop(state);
                if let Some(module) = waiting {
                    module.wake();
                }
                return Poll::Ready(Ok(()));
            }
            msg = Some(next);
            register(&mut state.sender, cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl Drop for InboxSender {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.sender_gone = true;
        let waiting = state.receiver.take();
        drop(state);
        if let Some(module) = waiting {
            module.wake();
        }
    }
}

/// A module's queue of inbound messages. Yields `None` once the client shuts down (the
/// router, which holds the sending side, is dropped then) and every queued message has
/// been taken.
///
/// Receiving is cancel-safe: a `recv` or `recv_many` dropped before it finished (in a
/// `select!`, say) has taken nothing.
pub struct Inbox {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Inbox")
            .field("queued", &state.queue.len())
            .field("capacity", &state.capacity)
            .field("closed", &state.sender_gone)
            .finish()
    }
}

impl Inbox {
    /// The next message, or `None` when the client is shutting down.
    pub async fn recv(&mut self) -> Option<Message> {
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            match state.queue.pop_front() {
                Some(msg) => {
                    let router = state.room_made();
                    drop(state);
                    if let Some(router) = router {
                        router.wake();
                    }
                    Poll::Ready(Some(msg))
                }
                None if state.sender_gone => Poll::Ready(None),
                None => {
                    register(&mut state.receiver, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Receives up to `limit` messages at once into `buf` (at least one unless shutting
    /// down, or unless `limit` is 0); returns how many arrived. Batching saves wake-ups
    /// under load.
    pub async fn recv_many(&mut self, buf: &mut Vec<Message>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            if state.queue.is_empty() {
                if state.sender_gone {
                    return Poll::Ready(0);
                }
                register(&mut state.receiver, cx.waker());
                return Poll::Pending;
            }
            let n = limit.min(state.queue.len());
            buf.extend(state.queue.drain(..n));
            let router = state.room_made();
            drop(state);
            if let Some(router) = router {
                router.wake();
            }
            Poll::Ready(n)
        })
        .await
    }

    /// A message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Message> {
        let mut state = self.shared.lock();
        let msg = state.queue.pop_front()?;
        let router = state.room_made();
        drop(state);
        if let Some(router) = router {
            router.wake();
        }
        Some(msg)
    }

    /// Messages waiting in the queue.
    pub fn len(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.shared.lock().queue.is_empty()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        let queued = std::mem::take(&mut state.queue);
        let router = state.sender.take();
        drop(state);
        drop(queued);
        if let Some(router) = router {
            router.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(i: usize) -> Message {
        Message::text(format!("m{i}"))
    }

    #[tokio::test]
    async fn messages_arrive_in_order_up_to_the_capacity() {
        let (tx, mut inbox) = channel(3);
        for i in 0..3 {
            tx.try_send(text(i)).unwrap();
        }
        assert!(matches!(tx.try_send(text(3)), Err(TrySendError::Full(m)) if m == text(3)));
        assert_eq!(inbox.len(), 3);
        assert_eq!(inbox.recv().await, Some(text(0)));
        tx.try_send(text(3)).unwrap();
        let mut buf = Vec::new();
        assert_eq!(inbox.recv_many(&mut buf, 2).await, 2);
        assert_eq!(buf, vec![text(1), text(2)]);
        assert_eq!(inbox.try_recv(), Some(text(3)));
        assert!(inbox.is_empty());
        assert_eq!(inbox.try_recv(), None);
    }

    #[tokio::test]
    async fn the_module_sees_the_end_only_after_the_queued_messages() {
        let (tx, mut inbox) = channel(4);
        tx.try_send(text(0)).unwrap();
        drop(tx);
        assert_eq!(inbox.recv().await, Some(text(0)));
        assert_eq!(inbox.recv().await, None);
        let mut buf = Vec::new();
        assert_eq!(inbox.recv_many(&mut buf, 8).await, 0);
    }

    #[tokio::test]
    async fn a_waiting_module_is_woken_by_a_message_and_by_the_end() {
        let (tx, mut inbox) = channel(4);
        let reader = tokio::spawn(async move {
            let first = inbox.recv().await;
            let second = inbox.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        tx.try_send(text(7)).unwrap();
        tokio::task::yield_now().await;
        drop(tx);
        let (first, second) = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the module was never woken")
            .unwrap();
        assert_eq!(first, Some(text(7)));
        assert_eq!(second, None);
    }

    #[tokio::test]
    async fn the_router_waits_for_room_and_delivers_when_the_module_takes_one() {
        let (tx, mut inbox) = channel(1);
        tx.try_send(text(0)).unwrap();
        let sender = tokio::spawn(async move {
            let sent = tx.send(text(1)).await;
            (sent.is_ok(), tx)
        });
        tokio::task::yield_now().await;
        assert!(!sender.is_finished(), "the inbox is full: the router waits");
        assert_eq!(inbox.recv().await, Some(text(0)));
        let (sent, _tx) = tokio::time::timeout(Duration::from_secs(5), sender)
            .await
            .expect("the router was never woken")
            .unwrap();
        assert!(sent);
        assert_eq!(inbox.recv().await, Some(text(1)));
    }

    #[tokio::test]
    async fn a_gone_module_refuses_messages_and_releases_a_waiting_router() {
        let (tx, inbox) = channel(1);
        tx.try_send(text(0)).unwrap();
        let sender = tokio::spawn(async move { tx.send(text(1)).await });
        tokio::task::yield_now().await;
        drop(inbox);
        let refused = tokio::time::timeout(Duration::from_secs(5), sender)
            .await
            .expect("the router was never released")
            .unwrap();
        assert_eq!(refused, Err(text(1)));
    }

    #[tokio::test]
    async fn a_cancelled_receive_takes_nothing() {
        let (tx, mut inbox) = channel(2);
        // Dropped while waiting: nothing was taken, nothing lost.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), inbox.recv())
                .await
                .is_err()
        );
        tx.try_send(text(1)).unwrap();
        assert_eq!(inbox.recv().await, Some(text(1)));
        let mut buf = Vec::new();
        assert_eq!(
            inbox.recv_many(&mut buf, 0).await,
            0,
            "a zero limit takes nothing"
        );
    }
}

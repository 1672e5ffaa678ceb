//! Each connection thread's home: where other threads leave work for it.
//!
//! Wakes: a connection's task lives on the thread that runs it; waking it
//! from another thread costs a syscall every time (tokio unparks that
//! thread's driver for each remote wake), and an announce relayed to ten
//! peers woke about five tasks on the other thread: 12,000 `write`s a second
//! at 2000 announces/s on two threads. So wakes for a thread's connections
//! from other threads are left at its home, and the thread is woken once per
//! batch to pass them on locally, where a wake is a queue push.
//!
//! Jobs: a closure to run on that thread (a connection handed over to it,
//! see `crate::handoff`).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::link::{unpoisoned, Link};

type Job = Box<dyn FnOnce() + Send>;

/// Where one thread's wakes and jobs from other threads wait for it.
#[derive(Default)]
pub struct Home {
    pending: Mutex<Vec<Arc<Link>>>,
    jobs: Mutex<Vec<Job>>,
    ready: Notify,
}

/// The homes of one server's connection threads, and which one is this.
struct Here {
    all: Arc<[Arc<Home>]>,
    index: usize,
}

thread_local! {
    static HERE: RefCell<Option<Here>> = const { RefCell::new(None) };
}

/// The home of the thread this runs on; `None` outside the connection threads.
pub fn here() -> Option<Arc<Home>> {
    HERE.with(|h| h.borrow().as_ref().map(|h| h.all[h.index].clone()))
}

fn is_here(home: &Arc<Home>) -> bool {
    HERE.with(|h| {
        h.borrow()
            .as_ref()
            .is_some_and(|h| Arc::ptr_eq(&h.all[h.index], home))
    })
}

/// The home of the thread that serves connections for `shard`, when that is
/// another thread of this server (shard `s` belongs to thread `s % threads`).
pub fn owner_elsewhere(shard: usize) -> Option<Arc<Home>> {
    HERE.with(|h| {
        let h = h.borrow();
        let h = h.as_ref()?;
        let owner = shard % h.all.len();
        (owner != h.index).then(|| h.all[owner].clone())
    })
}

/// Whether this is one of several connection threads of a server.
pub fn shared() -> bool {
    HERE.with(|h| h.borrow().as_ref().is_some_and(|h| h.all.len() > 1))
}

/// Homes for `n` connection threads of one server.
pub fn homes(n: usize) -> Arc<[Arc<Home>]> {
    (0..n.max(1)).map(|_| Arc::new(Home::default())).collect()
}

/// Makes this thread `all[index]`'s for the connections made on it from now
/// on; the future passes on the wakes and runs the jobs other threads leave
/// there (spawn it on this thread's runtime; it runs until dropped).
pub fn serve_as(all: Arc<[Arc<Home>]>, index: usize) -> impl std::future::Future<Output = ()> {
    let home = all[index].clone();
    HERE.with(|h| *h.borrow_mut() = Some(Here { all, index }));
    pass_on(home)
}

/// `serve_as` for a server of one thread.
#[cfg(test)]
pub fn serve_here() -> impl std::future::Future<Output = ()> {
    serve_as(homes(1), 0)
}

async fn pass_on(home: Arc<Home>) {
    let (mut batch, mut jobs) = (Vec::new(), Vec::new());
    loop {
        home.ready.notified().await;
        std::mem::swap(&mut batch, &mut *unpoisoned(&home.pending));
        for link in batch.drain(..) {
            link.ready.notify_one();
        }
        std::mem::swap(&mut jobs, &mut *unpoisoned(&home.jobs));
        for job in jobs.drain(..) {
            job();
        }
    }
}

/// Runs `job` on `home`'s thread, inside its runtime.
pub fn run_there(home: &Home, job: Job) {
    unpoisoned(&home.jobs).push(job);
    home.ready.notify_one();
}

/// Wakes the tasks of `links`: at once on this thread, through their home
/// (one wake-up per home and batch) on another.
pub fn wake_all(links: impl IntoIterator<Item = Arc<Link>>) {
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
            wake_all(sent);
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
        wake_all([l.clone()]);
        tokio::time::timeout(std::time::Duration::from_secs(5), l.ready.notified())
            .await
            .expect("woken");
    }
}

//! Moving a WebSocket to the thread that owns its swarm.
//!
//! A connection is accepted by whichever thread's `accept` won; its swarm's
//! shard belongs to one thread (`home::owner_elsewhere`). When they differ,
//! every offer, answer and reply between that connection and its swarm's
//! other peers crosses threads, and each crossing wakes a thread that idles
//! between messages: at 2000 announces/s, two threads made 2.3 context
//! switches and 3.2 `epoll_wait`s per announce against 1.1 and 1.2 on one.
//! So once a connection's first message names its torrent, the socket moves
//! to the thread that owns it, and a swarm's relays stay on one thread.
//! (A connection that later joins torrents of other shards works as before,
//! across threads.)
//!
//! The socket moves as a duplicate of its file descriptor: hyper owns the
//! upgraded stream behind a private wrapper, so the descriptor is taken at
//! `accept` (`Accepted`) and duplicated; dropping hyper's stream removes it
//! from this thread's reactor, the other thread registers the duplicate.
//! TLS connections stay where they were accepted (their session state
//! cannot move).

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use crate::tls::TlsListener;

/// What the server knows of an accepted connection: the peer's address, and
/// its socket when the connection may move to another thread.
#[derive(Clone, Copy, Debug)]
pub struct Accepted {
    pub addr: SocketAddr,
    socket: Option<RawFd>,
}

impl Accepted {
    /// Its socket, if it may move: a plain TCP stream (not TLS).
    pub fn socket(&self) -> Option<RawFd> {
        self.socket
    }
}

/// A stream a connection may be served over.
pub trait Movable {
    /// The descriptor to duplicate, if the stream's whole state is the
    /// kernel's (plain TCP).
    fn movable(&self) -> Option<RawFd>;
}

impl Movable for TcpStream {
    fn movable(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}

impl<Io> Movable for TlsStream<Io> {
    fn movable(&self) -> Option<RawFd> {
        None
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for Accepted {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        accepted(*stream.remote_addr(), stream.io())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Accepted {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        accepted(*stream.remote_addr(), stream.io())
    }
}

/// The plain TCP listener: axum's, with `TCP_NODELAY` on every connection
/// (small relayed messages must not wait for Nagle's algorithm).
pub struct PlainListener(pub TcpListener);

impl Listener for PlainListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
        (tcp, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Listener::local_addr(&self.0)
    }
}

fn accepted(addr: SocketAddr, io: &impl Movable) -> Accepted {
    Accepted {
        addr,
        socket: io.movable(),
    }
}

/// A second descriptor for `fd`'s socket, as a std stream to hand to
/// another thread's runtime.
///
/// # Safety
/// `fd` must be open for the duration of the call: the caller still holds
/// the stream it was taken from.
pub unsafe fn duplicate(fd: RawFd) -> Option<std::net::TcpStream> {
    // SAFETY: the caller keeps `fd` open during this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed
        .try_clone_to_owned()
        .ok()
        .map(std::net::TcpStream::from)
}

//! The tokio runtime for webrtc-rs with large UDP socket buffers.
//!
//! With the kernel's default 208 KiB buffers a data channel between two
//! native peers moves ~8 MB/s: bursts overflow the receive buffer and SCTP
//! backs off. 4 MiB buffers give 100–150 MB/s (shared/docs/toolchain.md).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// Socket buffer size asked for; the kernel caps it at `net.core.rmem_max`.
pub const UDP_BUFFER: usize = 4 << 20;

#[derive(Debug)]
pub struct TunedRuntime {
    inner: TokioRuntime,
    buffer: usize,
}

impl TunedRuntime {
    /// The runtime as webrtc-rs takes it.
    pub fn shared(buffer: usize) -> Arc<dyn Runtime> {
        Arc::new(TunedRuntime {
            inner: TokioRuntime,
            buffer,
        })
    }
}

/// The smallest UDP receive buffer the kernel granted a socket of ours.
static RECEIVE_BUFFER: AtomicUsize = AtomicUsize::new(usize::MAX);

/// What our SDP declares to webswarm remotes ([`super::sdp`]), once a socket
/// was made.
pub fn receive_buffer() -> Option<usize> {
    Some(RECEIVE_BUFFER.load(Ordering::Relaxed)).filter(|&n| n != usize::MAX)
}

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Tasks webrtc-rs has spawned that have not ended.
pub fn live_tasks() -> usize {
    LIVE.load(Ordering::Relaxed)
}

struct Live;
impl Drop for Live {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

fn counted(
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    LIVE.fetch_add(1, Ordering::Relaxed);
    let live = Live;
    Box::pin(async move {
        let _live = live;
        future.await
    })
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Runtime for TunedRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(counted(future))
    }

    fn spawn_reactor(
        &self,
        pool: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(pool, counted(future))
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let s = socket2::SockRef::from(&socket);
        // A smaller buffer than asked for still works, only slower: not an error.
        let _ = s.set_recv_buffer_size(self.buffer);
        let _ = s.set_send_buffer_size(self.buffer);
        if let Ok(got) = s.recv_buffer_size() {
            // Linux reports twice what it grants, for its own bookkeeping.
            let got = if cfg!(target_os = "linux") {
                got / 2
            } else {
                got
            };
            RECEIVE_BUFFER.fetch_min(got, Ordering::Relaxed);
        }
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> BoxFuture<'a, io::Result<Arc<dyn AsyncTcpStream>>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        self.inner.resolve_host(host)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn name(&self) -> &'static str {
        "webswarm-tokio"
    }
}

//! The client's uTP socket (BEP 29, the `librqbit-utp` crate): one UDP
//! socket on the port number of the TCP listener, since classic peers dial
//! uTP where they were told TCP listens. Bound by the first of the listener
//! and a dialer to need it, as the DHT node is.

use std::net::SocketAddr;
use std::sync::Arc;

use librqbit_utp::{UtpSocketUdp, UtpStream};
use tokio::sync::OnceCell;

/// The socket, once bound (`None` when binding failed: no uTP then).
pub struct Utp {
    addr: SocketAddr,
    socket: OnceCell<Option<Arc<UtpSocketUdp>>>,
}

impl Utp {
    /// A socket to be bound on `addr`'s UDP port.
    pub fn new(addr: SocketAddr) -> Utp {
        Utp {
            addr,
            socket: OnceCell::new(),
        }
    }

    /// The bound socket.
    pub async fn socket(&self) -> Option<&Arc<UtpSocketUdp>> {
        let bind = || async {
            match UtpSocketUdp::new_udp(self.addr).await {
                Ok(s) => Some(s),
                Err(e) => {
                    // Another port would reach no one: peers dial uTP on
                    // the TCP port's number.
                    tracing::warn!("cannot take uTP peers on UDP {} ({e}); TCP only", self.addr);
                    None
                }
            }
        };
        self.socket.get_or_init(bind).await.as_ref()
    }

    /// A uTP connection to `addr`.
    pub async fn connect(&self, addr: SocketAddr) -> Result<UtpStream, String> {
        let s = self.socket().await.ok_or("uTP is off")?;
        s.connect(addr).await.map_err(|e| e.to_string())
    }
}

//! Hostile classic peers and trackers, written for the tests: a junk HTTP
//! tracker, a BEP 15 tracker that answers with wrong transaction ids first,
//! a peer that serves wrong bytes.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// An HTTP "tracker" that answers each announce with the next of: junk
/// bencode, HTTP 500, a failure reason, and a connection closed unanswered.
pub fn junk_tracker() -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let reply: &[u8] = match i % 4 {
                0 => b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nd5:peersi",
                1 => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                2 => b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\nd14:failure reason7:go awaye",
                _ => b"",
            };
            let _ = s.write_all(reply);
        }
    });
    port
}

/// Reads until the peer closes; panics if it keeps the connection open.
pub fn closed_by_peer(mut s: TcpStream, what: &str) {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: the seeder kept the connection ({e})"),
        }
    }
}

pub fn handshake(info_hash: &[u8; 20]) -> Vec<u8> {
    let mut h = b"\x13BitTorrent protocol\0\0\0\0\0\x10\0\x04".to_vec();
    h.extend_from_slice(info_hash);
    h.extend_from_slice(b"-XX0001-hostilepeer!");
    h
}

/// A BEP 15 tracker that answers every request twice: first with a wrong
/// transaction id, then rightly, naming `peers` (IPv4 TCP ports on
/// 127.0.0.1). Returns its port.
pub fn two_faced_udp_tracker(peers: Vec<u16>) -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            if n < 16 {
                continue;
            }
            let action = u32::from_be_bytes(buf[8..12].try_into().unwrap());
            let tid = u32::from_be_bytes(buf[12..16].try_into().unwrap());
            let reply = |tid: u32| {
                let mut r = match action {
                    0 => [&0u32.to_be_bytes()[..], &tid.to_be_bytes(), &[0x42; 8]].concat(),
                    _ => [
                        &1u32.to_be_bytes()[..],
                        &tid.to_be_bytes(),
                        &1800u32.to_be_bytes(),
                        &0u32.to_be_bytes(),
                        &(peers.len() as u32).to_be_bytes(),
                    ]
                    .concat(),
                };
                if action == 1 {
                    for p in &peers {
                        r.extend_from_slice(&[127, 0, 0, 1]);
                        r.extend_from_slice(&p.to_be_bytes());
                    }
                }
                r
            };
            let _ = s.send_to(&reply(tid ^ 0xdead_beef), from);
            let _ = s.send_to(&reply(tid), from);
        }
    });
    port
}

/// A classic peer that claims every piece, unchokes, and answers every
/// request with the right length of wrong bytes. Returns its port.
pub fn corrupt_peer(info_hash: [u8; 20]) -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut theirs = [0u8; 68];
                s.read_exact(&mut theirs)?;
                s.write_all(&handshake(&info_hash))?;
                // Have-all (BEP 6: both handshakes set the fast bit), unchoke.
                let msg = [0, 0, 0, 1, 14, 0, 0, 0, 1, 1];
                s.write_all(&msg)?;
                loop {
                    let mut len = [0u8; 4];
                    s.read_exact(&mut len)?;
                    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                    s.read_exact(&mut body)?;
                    if body.first() == Some(&6) && body.len() == 13 {
                        let block = u32::from_be_bytes(body[9..13].try_into().unwrap());
                        let mut piece = ((9 + block) as u32).to_be_bytes().to_vec();
                        piece.push(7);
                        piece.extend_from_slice(&body[1..9]);
                        piece.extend(std::iter::repeat_n(0x5a, block as usize));
                        s.write_all(&piece)?;
                    }
                }
            });
        }
    });
    port
}

/// Sends junk to UDP `port` on loopback for `how_long`, from one socket: a
/// third random bytes, a third nearly KRPC (a dictionary with wrong
/// fields), a third nearly uTP (a header of every packet type with random
/// connection ids and numbers, some with random payload). Returns how many.
pub fn junk_datagrams(port: u16, how_long: Duration) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let t = std::time::Instant::now();
        let mut sent = 0u32;
        while t.elapsed() < how_long {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 1500) as usize;
            let mut d: Vec<u8> = (0..len).map(|i| (x >> (i % 57)) as u8).collect();
            match sent % 3 {
                0 => d = b"d1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q9:get_peers1:t2:aa1:y1:qe".to_vec(),
                1 => {
                    // Type (0..=4) in the high nibble, version 1.
                    let ty = ((x >> 8) % 5) as u8;
                    d.resize(d.len().max(20), 0);
                    d[0] = (ty << 4) | 1;
                    d.truncate(if x & 1 == 0 { 20 } else { d.len() });
                }
                _ => {}
            }
            let _ = s.send_to(&d, ("127.0.0.1", port));
            sent += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        sent
    })
}

/// A host at `from` that keeps `n` connections open to 127.0.0.1:`port`
/// and never sends a byte, opening a new one whenever one is closed, until
/// dropped.
pub struct SilentFlood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u32>>,
}

impl SilentFlood {
    pub fn start(port: u16, from: std::net::IpAddr, n: usize) -> SilentFlood {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut opened = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(s) = silent_connection(from, port) {
                            opened += 1;
                            // Until the peer closes it (or the test ends).
                            let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
                            let mut b = [0u8; 64];
                            while !stop.load(Ordering::Relaxed) {
                                match std::io::Read::read(&mut &s, &mut b) {
                                    Ok(0) => break,
                                    Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
                                    _ => {}
                                }
                            }
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    opened
                })
            })
            .collect();
        SilentFlood { stop, threads }
    }

    /// Stops; how many connections were opened in all.
    pub fn stop(mut self) -> u32 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads.drain(..).map(|t| t.join().unwrap()).sum()
    }
}

fn silent_connection(from: std::net::IpAddr, port: u16) -> Option<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.bind(&std::net::SocketAddr::new(from, 0).into()).ok()?;
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    s.connect_timeout(&to.into(), Duration::from_secs(1)).ok()?;
    Some(s.into())
}

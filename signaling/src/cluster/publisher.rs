//! PUBLISH without replies. A connection of its own to Redis, switched to
//! `CLIENT REPLY OFF`: Redis sends nothing back, so a node is not woken for
//! a `:1` after every batch it publishes (measured: those wake-ups were a
//! quarter of a cluster node's context switches), and Redis writes nothing
//! for them either. Losing the connection shows as a failed write here or a
//! closed subscription in the link; a Redis that stops relaying shows as our
//! own heartbeats not coming back (the link checks).

use std::io;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A write that takes longer than this counts as Redis being down.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Publisher {
    stream: TcpStream,
    out: Vec<u8>,
}

impl Publisher {
    /// Connects, authenticates if the URL has a password, and turns replies off.
    pub async fn connect(info: &ConnectionInfo) -> io::Result<Publisher> {
        let ConnectionAddr::Tcp(host, port) = &info.addr else {
            return Err(io::Error::other("only redis:// URLs are supported"));
        };
        let stream = TcpStream::connect((host.as_str(), *port)).await?;
        stream.set_nodelay(true)?;
        let mut p = Publisher {
            stream,
            out: Vec::new(),
        };
        if let Some(password) = &info.redis.password {
            let mut auth = vec!["AUTH"];
            auth.extend(info.redis.username.as_deref());
            auth.push(password);
            command(&mut p.out, &auth);
            p.flush().await?;
            p.expect_ok().await?;
        }
        command(&mut p.out, &["CLIENT", "REPLY", "OFF"]);
        p.flush().await?;
        Ok(p)
    }

    /// Reads one reply line; anything but `+OK` is the error Redis gave.
    async fn expect_ok(&mut self) -> io::Result<()> {
        let mut line = String::new();
        let mut r = BufReader::new(&mut self.stream).take(512);
        timeout(WRITE_TIMEOUT, r.read_line(&mut line))
            .await
            .map_err(|_| io::Error::other("Redis did not reply to AUTH"))??;
        match line.trim_end() {
            "+OK" => Ok(()),
            other => Err(io::Error::other(format!(
                "Redis refused AUTH: {}",
                other.trim_start_matches('-')
            ))),
        }
    }

    /// Queues one PUBLISH; nothing is sent before [`Publisher::flush`].
    pub fn publish(&mut self, channel: &str, payload: &[u8]) {
        self.out.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n");
        bulk(&mut self.out, channel.as_bytes());
        bulk(&mut self.out, payload);
    }

    /// Writes everything queued, in one write when the socket takes it.
    pub async fn flush(&mut self) -> io::Result<()> {
        let written = timeout(WRITE_TIMEOUT, self.stream.write_all(&self.out)).await;
        self.out.clear();
        match written {
            Ok(r) => r,
            Err(_) => Err(io::Error::other("Redis stopped reading")),
        }
    }
}

fn command(out: &mut Vec<u8>, args: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        bulk(out, a.as_bytes());
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &["CLIENT", "REPLY", "OFF"]);
        assert_eq!(out, b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n");
        let mut out = Vec::new();
        bulk(&mut out, b"a\r\nb");
        assert_eq!(out, b"$4\r\na\r\nb\r\n");
    }
}

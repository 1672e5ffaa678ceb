//! qbittorrent-nox (Debian's qBittorrent, on libtorrent, in its default
//! settings but for what would reach outside loopback: no DHT, LSD or PEX),
//! driven through its WebUI API on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::common::Reap;
use super::support::{free_port, spawn, wait_listening, DEADLINE};

pub struct QBittorrent {
    _child: Reap,
    web: u16,
}

impl QBittorrent {
    /// A fresh qbittorrent-nox with its profile under `dir`, taking peers
    /// on its own port, its WebUI open to loopback without a login.
    pub fn start(dir: &Path) -> QBittorrent {
        let (web, listen) = (free_port(), free_port());
        let config = dir.join("qBittorrent/config");
        std::fs::create_dir_all(&config).unwrap();
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n\n[BitTorrent]\nSession\\Port={listen}\n\
             Session\\DHTEnabled=false\nSession\\PeXEnabled=false\nSession\\LSDEnabled=false\n\n\
             [Preferences]\nWebUI\\Port={web}\nWebUI\\LocalHostAuth=false\n\
             WebUI\\HostHeaderValidation=false\nWebUI\\CSRFProtection=false\n"
        );
        std::fs::write(config.join("qBittorrent.conf"), conf).unwrap();
        let child =
            spawn(Command::new("qbittorrent-nox").arg(format!("--profile={}", dir.display())));
        wait_listening(web);
        QBittorrent { _child: child, web }
    }

    /// The body of the WebUI's answer to `method path` with a form `body`.
    fn call(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.web)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        assert!(head.contains(" 200 "), "qBittorrent {path}: {head}");
        body.to_owned()
    }

    /// Adds `uri` (a magnet) to download into `save`.
    pub fn add(&self, uri: &str, save: &Path) {
        let body = format!(
            "urls={}&savepath={}",
            form(uri),
            form(save.to_str().unwrap())
        );
        let r = self.call("POST", "/api/v2/torrents/add", &body);
        assert!(r.trim() == "Ok.", "qBittorrent refused {uri}: {r}");
    }

    /// Waits until torrent `hash` is complete; its peers as qBittorrent
    /// lists them (address, connection kind) then.
    pub fn wait_complete(&self, hash: &str) -> Vec<(String, String)> {
        let t = Instant::now();
        loop {
            let info = self.call("GET", &format!("/api/v2/torrents/info?hashes={hash}"), "");
            let v: serde_json::Value = serde_json::from_str(&info).unwrap_or_default();
            if v[0]["progress"].as_f64() == Some(1.0) {
                let peers = self.call("GET", &format!("/api/v2/sync/torrentPeers?hash={hash}"), "");
                let p: serde_json::Value = serde_json::from_str(&peers).unwrap_or_default();
                let list = p["peers"].as_object().cloned().unwrap_or_default();
                return list
                    .iter()
                    .map(|(k, v)| (k.clone(), v["connection"].as_str().unwrap_or("").to_owned()))
                    .collect();
            }
            assert!(t.elapsed() < DEADLINE, "qBittorrent did not finish: {info}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `application/x-www-form-urlencoded` of `s`.
fn form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

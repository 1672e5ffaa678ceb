//! The `webswarm` command line. Every failure ends as one line on stderr and
//! a non-zero exit code.

mod create;
mod demo;
mod get;
mod progress;
mod seed;
mod standing;
mod summary;
mod tracker;

use std::net::{IpAddr, SocketAddr};

use clap::{Args, Parser, Subcommand};
use webswarm_core::engine::Choking;

use crate::session::{ClientConfig, TcpConfig};
use crate::transport::webrtc_rs::{IceServer, RtcConfig};
use webswarm_native::classic::dht::DhtConfig;
use webswarm_native::classic::mse::Encryption;

#[derive(Parser, Debug)]
#[command(
    name = "webswarm",
    version,
    about = "BitTorrent for the web: seed files to browsers over WebRTC, and download"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash a file or directory into a .torrent and print its magnet link.
    Create(create::CreateArgs),
    /// Seed a file or directory (or the data of a .torrent) to the swarm.
    Seed(seed::SeedArgs),
    /// Download a magnet link or .torrent.
    Get(get::GetArgs),
    /// Run the WebSocket tracker.
    Tracker(tracker::TrackerArgs),
    /// Serve a demo: tracker, native seeder for FILE (with webseed) and a page
    /// that downloads and plays it through WebRTC.
    Demo(demo::DemoArgs),
}

/// Network options shared by `seed` and `get`.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// Tracker to announce to (repeatable), besides those in the torrent.
    #[arg(long = "tracker", short = 't')]
    trackers: Vec<String>,
    /// Local address for WebRTC (repeatable) [default: all IPv4 and IPv6
    /// interfaces and 127.0.0.1]; given once, classic TCP and uTP peers
    /// are taken on it too [default: all IPv4 interfaces].
    #[arg(long = "bind")]
    bind: Vec<IpAddr>,
    /// STUN or TURN server URL (repeatable), e.g. stun:stun.example.org:3478.
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// Username and credential for the TURN servers, as USER:PASSWORD.
    #[arg(long = "turn-auth")]
    turn_auth: Option<String>,
    /// Connect through the TURN servers only: peers never learn this
    /// machine's addresses (needs a turn: --ice-server).
    #[arg(long = "relay-only")]
    relay_only: bool,
    /// Extra CA certificates (PEM) to trust for wss:// trackers.
    #[arg(long)]
    tracker_ca: Option<std::path::PathBuf>,
    /// Most peer connections across all torrents.
    #[arg(long, default_value_t = 200)]
    max_connections: usize,
    /// Upload limit per torrent in bytes per second (suffixes k, M: 500k, 2M).
    #[arg(long, value_parser = parse_rate)]
    max_upload_rate: Option<u64>,
    /// Whom to upload to while downloading: tit-for-tat (the peers that give
    /// most back; for open swarms) or swarm (the peers furthest behind, so a
    /// site's visitors all finish sooner).
    #[arg(long, default_value = "tit-for-tat", value_parser = str::parse::<Choking>)]
    choking: Choking,
    /// WebRTC peers only: no classic BitTorrent peers over TCP, no HTTP or
    /// UDP trackers (--relay-only implies it: a TCP peer learns our address).
    #[arg(long)]
    no_tcp: bool,
    /// TCP port for classic BitTorrent peers (taken: another port is
    /// used), and UDP port of the same number for uTP peers.
    #[arg(long, default_value_t = 6881)]
    listen_port: u16,
    /// No uTP (BEP 29): classic peers over TCP only.
    #[arg(long)]
    no_utp: bool,
    /// Message Stream Encryption with classic peers: prefer (dial encrypted,
    /// fall back to plaintext; accept both), require (encrypted only, RC4
    /// for the data too) or off (plaintext only).
    #[arg(long, default_value = "prefer", value_parser = str::parse::<Encryption>)]
    encryption: Encryption,
    /// No mainline DHT (BEP 5): classic peers come from trackers only.
    #[arg(long)]
    no_dht: bool,
    /// UDP port of the DHT node [default: any free port; the log says which].
    #[arg(long, default_value_t = 0)]
    dht_port: u16,
    /// A DHT node to join through, HOST:PORT (repeatable) [default:
    /// router.bittorrent.com:6881 and three other public routers].
    #[arg(long = "dht-bootstrap")]
    dht_bootstrap: Vec<String>,
}

fn parse_rate(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1_000),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1_000_000),
            None => (s, 1),
        },
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s} is not a rate: give bytes per second, e.g. 500k or 2M"))?;
    if n <= 0.0 {
        return Err("the rate must be above zero".into());
    }
    Ok((n * mult as f64) as u64)
}

impl NetArgs {
    fn client_config(&self) -> Result<ClientConfig, String> {
        let tracker_ca = match &self.tracker_ca {
            Some(p) => crate::session::load_ca_file(p).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let mut rtc = RtcConfig::default();
        if !self.bind.is_empty() {
            rtc.bind = self.bind.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
        }
        if self.relay_only
            && !self
                .ice_servers
                .iter()
                .any(|u| u.starts_with("turn:") || u.starts_with("turns:"))
        {
            return Err("--relay-only needs a TURN server: --ice-server turn:HOST:PORT".into());
        }
        rtc.relay_only = self.relay_only;
        if !self.ice_servers.is_empty() {
            let (username, credential) = self
                .turn_auth
                .as_deref()
                .and_then(|a| a.split_once(':'))
                .map(|(u, p)| (u.to_owned(), p.to_owned()))
                .unwrap_or_default();
            rtc.ice_servers = vec![IceServer {
                urls: self.ice_servers.clone(),
                username,
                credential,
            }];
        }
        let engine = webswarm_core::engine::Config {
            choking: self.choking,
            ..Default::default()
        };
        let dht = (!self.no_dht).then(|| {
            let d = DhtConfig::default();
            DhtConfig {
                bootstrap: match self.dht_bootstrap.is_empty() {
                    true => d.bootstrap,
                    false => self.dht_bootstrap.clone(),
                },
                port: self.dht_port,
            }
        });
        let listen_ip = match self.bind[..] {
            [one] => one,
            _ => IpAddr::from([0, 0, 0, 0]),
        };
        let tcp = (!self.no_tcp && !self.relay_only).then(|| TcpConfig {
            listen: SocketAddr::new(listen_ip, self.listen_port),
            utp: !self.no_utp,
            dht,
            encryption: self.encryption,
            ..TcpConfig::default()
        });
        Ok(ClientConfig {
            rtc,
            engine,
            tcp,
            max_connections: self.max_connections,
            max_upload_rate: self.max_upload_rate,
            tracker_ca,
            ..ClientConfig::default()
        })
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    init_logging(cli.verbose);
    match cli.cmd {
        Command::Create(a) => create::run(a).await,
        Command::Seed(a) => seed::run(a).await,
        Command::Get(a) => get::run(a).await,
        Command::Tracker(a) => tracker::run(a).await,
        Command::Demo(a) => demo::run(a).await,
    }
}

fn init_logging(verbose: u8) {
    // webrtc-rs logs routine ICE/DTLS noise at WARN: only our own crates
    // speak by default. The DHT crate logs an unreachable bootstrap as an
    // ERROR every 2 s; off line that is normal, and a lookup that fails is
    // logged by discovery (at debug: -vv).
    let default = match verbose {
        0 => "error,webswarm=warn,webswarm_native=warn,webswarm_signaling=warn,mainline=off",
        1 => "error,webswarm=info,webswarm_native=info,webswarm_signaling=info,mainline=off",
        _ => "info,webswarm_native=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A torrent argument: a magnet link or a .torrent file.
fn load_source(arg: &str) -> Result<crate::session::What, String> {
    use crate::session::What;
    if arg.starts_with("magnet:") {
        let m = webswarm_core::Magnet::parse(arg).map_err(|e| format!("bad magnet link: {e}"))?;
        return Ok(What::Magnet(m));
    }
    let bytes = std::fs::read(arg).map_err(|e| format!("cannot read {arg}: {e}"))?;
    let meta = webswarm_core::Metainfo::from_bytes(&bytes)
        .map_err(|e| format!("{arg} is not a valid .torrent: {e}"))?;
    Ok(What::Torrent(Box::new(meta)))
}

/// The directory a file is in (`.` for a bare name).
fn parent(p: &std::path::Path) -> std::path::PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> ClientConfig {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            net: NetArgs,
        }
        let argv = std::iter::once("t").chain(args.iter().copied());
        T::try_parse_from(argv)
            .unwrap()
            .net
            .client_config()
            .unwrap()
    }

    #[test]
    fn one_bind_address_is_the_classic_listeners_too() {
        let c = config(&["--bind", "127.0.0.2", "--listen-port", "7000"]);
        let tcp = c.tcp.unwrap();
        assert_eq!(tcp.listen, "127.0.0.2:7000".parse::<SocketAddr>().unwrap());
        assert!(tcp.utp);
        let c = config(&["--bind", "127.0.0.2", "--bind", "::1", "--no-utp"]);
        let tcp = c.tcp.unwrap();
        assert_eq!(tcp.listen, "0.0.0.0:6881".parse::<SocketAddr>().unwrap());
        assert!(!tcp.utp);
        let c = config(&["--dht-port", "7001"]);
        assert_eq!(c.tcp.unwrap().dht.unwrap().port, 7001);
        let relay = ["--relay-only", "--ice-server", "turn:127.0.0.1:3478"];
        assert!(config(&relay).tcp.is_none());
    }
}

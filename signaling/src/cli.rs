//! The tracker's command line, shared by `webswarm-tracker` and
//! `webswarm tracker`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, DEFAULT_TOML};
use crate::server::{serve, App};

#[derive(Args, Debug, Clone)]
pub struct TrackerArgs {
    /// TOML configuration file (see --print-config for every field).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Seconds between announces that clients are told to wait.
    #[arg(long)]
    pub interval: Option<u64>,
    /// Swarm shards, each with its own lock (0: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Threads serving connections (0: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most open WebSocket connections.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Print the default configuration, with every field explained, and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Why the tracker did not run; `code` is the process exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    pub code: u8,
    pub message: String,
}

/// Runs the tracker until Ctrl-C. Prints `tracker listening on ws://ADDR …`
/// to stderr once it accepts connections.
pub async fn run(args: TrackerArgs) -> Result<(), RunError> {
    if args.print_config {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let fail = |code, message: String| RunError { code, message };
    let mut cfg = match args.config {
        Some(p) => Config::load(p).map_err(|e| fail(2, e.to_string()))?,
        None => Config::default(),
    };
    cfg.bind = args.bind.unwrap_or(cfg.bind);
    cfg.interval_secs = args.interval.unwrap_or(cfg.interval_secs);
    cfg.max_connections = args.max_connections.unwrap_or(cfg.max_connections);
    cfg.shards = args.shards.unwrap_or(cfg.shards);
    cfg.threads = args.threads.unwrap_or(cfg.threads);
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| fail(1, format!("cannot listen on {}: {e}", cfg.bind)))?;
    let addr = listener.local_addr().map_or(cfg.bind, |a| a);
    let scheme = if cfg.tls_cert.is_some() { "wss" } else { "ws" };
    eprintln!("tracker listening on {scheme}://{addr} (stats: http://{addr}/stats.json)");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(App::new(cfg, seed), listener, shutdown)
        .await
        .map_err(|e| fail(1, e.to_string()))
}

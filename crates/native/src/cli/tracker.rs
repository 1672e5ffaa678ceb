//! `webswarm tracker`: the same tracker as the `webswarm-tracker` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use webswarm_signaling::config::{Config, DEFAULT_TOML};
use webswarm_signaling::server::{serve, App};

#[derive(Args, Debug)]
pub struct TrackerArgs {
    /// TOML configuration file (see --print-config).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Announce interval clients are told, in seconds.
    #[arg(long)]
    interval: Option<u64>,
    /// Print the default configuration and exit.
    #[arg(long)]
    print_config: bool,
}

pub async fn run(a: TrackerArgs) -> Result<(), String> {
    if a.print_config {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let mut cfg = match a.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    cfg.bind = a.bind.unwrap_or(cfg.bind);
    cfg.interval_secs = a.interval.unwrap_or(cfg.interval_secs);
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("tracker listening on ws://{addr}");
    let app = App::new(cfg, crate::util::random_u64());
    serve(app, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

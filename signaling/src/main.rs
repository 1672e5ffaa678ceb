//! `webswarm-tracker`: the WebSocket tracker as a program.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use webswarm_signaling::config::{Config, DEFAULT_TOML};
use webswarm_signaling::server::{serve, App};

/// A WebTorrent-compatible WebSocket tracker.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (see --print-config for every field).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Seconds between announces that clients are told to wait.
    #[arg(long)]
    interval: Option<u64>,
    /// Most open WebSocket connections.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Print the default configuration, with every field explained, and exit.
    #[arg(long)]
    print_config: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if args.print_config {
        print!("{DEFAULT_TOML}");
        return ExitCode::SUCCESS;
    }
    let cfg = match args
        .config
        .clone()
        .map(Config::load)
        .unwrap_or_else(|| Ok(Config::default()))
    {
        Ok(mut c) => {
            c.bind = args.bind.unwrap_or(c.bind);
            c.interval_secs = args.interval.unwrap_or(c.interval_secs);
            c.max_connections = args.max_connections.unwrap_or(c.max_connections);
            c
        }
        Err(e) => {
            eprintln!("webswarm-tracker: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(cfg.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("webswarm-tracker: cannot listen on {}: {e}", cfg.bind);
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map_or(cfg.bind, |a| a);
    tracing::info!("tracker listening on ws://{addr} (stats: http://{addr}/stats.json)");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let app = App::new(cfg, seed);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match serve(app, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webswarm-tracker: {e}");
            ExitCode::FAILURE
        }
    }
}

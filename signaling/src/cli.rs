//! The tracker's command line, shared by `webswarm-tracker` and
//! `webswarm tracker`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use std::sync::Arc;

use webswarm_tracker_proto::InfoHash;

use crate::config::{Config, DEFAULT_TOML};
use crate::server::{serve, App};
use crate::token::{self, Scope};

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
    /// Only these torrents: a file of hex info-hashes, reloaded on SIGHUP.
    #[arg(long)]
    pub allow_list: Option<PathBuf>,
    /// Require signed tokens (?token=…); the HMAC secret is in this file.
    #[arg(long)]
    pub token_secret_file: Option<PathBuf>,
    /// Join a cluster of nodes through this Redis (redis://HOST:PORT/).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Only these torrents, cluster-wide: a Redis set of hex info-hashes
    /// (config: [cluster] allow_set; needs --redis-url).
    #[arg(long, value_name = "KEY")]
    pub allow_set: Option<String>,
    /// Hand out TURN credentials at /turn-credentials, signed with coturn's
    /// `static-auth-secret` kept in this file (config: [turn] secret_file).
    #[arg(long, value_name = "FILE")]
    pub turn_secret_file: Option<PathBuf>,
    /// A TURN server URL given to pages with the credentials (repeatable;
    /// config: [turn] urls).
    #[arg(long = "turn-url", value_name = "URL")]
    pub turn_urls: Vec<String>,
    /// Print the default configuration, with every field explained, and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(subcommand)]
    pub command: Option<TrackerCommand>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum TrackerCommand {
    /// Print a signed announce token (what a site's backend issues; the
    /// scheme is documented in the README for backends in any language).
    Token {
        /// File holding the tracker's token secret.
        #[arg(long)]
        secret_file: PathBuf,
        /// The torrent's info-hash in hex; omit for any torrent.
        #[arg(long)]
        info_hash: Option<String>,
        /// Seconds from now until it expires.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// What it allows: announce (and scrape), or scrape only.
        #[arg(long, default_value = "announce")]
        scope: String,
    },
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn print_token(
    secret_file: &std::path::Path,
    info_hash: Option<&str>,
    ttl: u64,
    scope: &str,
) -> Result<(), RunError> {
    let fail = |message: String| RunError { code: 2, message };
    let secret = std::fs::read(secret_file)
        .map_err(|e| fail(format!("cannot read {}: {e}", secret_file.display())))?;
    let ih = match info_hash {
        Some(h) => Some(InfoHash(
            webswarm_core::hex_decode(h)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| fail(format!("{h:?} is not a 40-digit hex info-hash")))?,
        )),
        None => None,
    };
    let scope = match scope {
        "announce" => Scope::Announce,
        "scrape" => Scope::Scrape,
        other => return Err(fail(format!("scope {other:?}: use announce or scrape"))),
    };
    let token = token::issue(secret.trim_ascii(), ih.as_ref(), unix_now() + ttl, scope);
    println!("{token}");
    Ok(())
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
    if let Some(TrackerCommand::Token {
        secret_file,
        info_hash,
        ttl,
        scope,
    }) = &args.command
    {
        return print_token(secret_file, info_hash.as_deref(), *ttl, scope);
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
    cfg.allow_list = args.allow_list.or(cfg.allow_list);
    cfg.token_secret_file = args.token_secret_file.or(cfg.token_secret_file);
    cfg.cluster.redis_url = args.redis_url.or(cfg.cluster.redis_url);
    cfg.cluster.allow_set = args.allow_set.or(cfg.cluster.allow_set);
    cfg.turn.secret_file = args.turn_secret_file.or(cfg.turn.secret_file);
    if !args.turn_urls.is_empty() {
        cfg.turn.urls = args.turn_urls;
    }
    let app = App::new(cfg.clone(), seed()).map_err(|e| fail(2, e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| fail(1, format!("cannot listen on {}: {e}", cfg.bind)))?;
    let addr = listener.local_addr().map_or(cfg.bind, |a| a);
    let scheme = if cfg.tls_cert.is_some() { "wss" } else { "ws" };
    eprintln!("tracker listening on {scheme}://{addr} (stats: http://{addr}/stats.json)");
    // SIGINT or SIGTERM (what service managers send): a graceful stop, in
    // which a cluster node tells the others it is leaving.
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let reloads = tokio::spawn(reload_on_hangup(app.clone()));
    let result = serve(app, listener, shutdown).await;
    reloads.abort();
    result.map_err(|e| fail(1, e.to_string()))
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// SIGHUP reads the allow-list again; a broken file keeps the old list.
async fn reload_on_hangup(app: Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => return tracing::warn!("cannot watch SIGHUP (no allow-list reloads): {e}"),
    };
    while hup.recv().await.is_some() {
        match app.reload_access() {
            Ok(Some(n)) => tracing::info!("allow-list reloaded: {n} info-hashes"),
            Ok(None) if app.access.shared().is_some() => {
                tracing::info!("SIGHUP: reading the allow-list set again")
            }
            Ok(None) => tracing::info!("SIGHUP: no allow-list configured"),
            Err(e) => tracing::error!("{e}; keeping the previous allow-list"),
        }
    }
}

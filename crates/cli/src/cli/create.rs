//! `webswarm create`.

use std::path::PathBuf;

use clap::Args;

use super::progress;
use crate::create::{create_torrent, CreateOptions};

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// File or directory to share.
    path: PathBuf,
    /// Tracker URL (repeatable), e.g. ws://127.0.0.1:8000; optional with a webseed.
    #[arg(long = "tracker", short = 't', required_unless_present = "webseeds")]
    trackers: Vec<String>,
    /// Web seed URL (BEP 19, repeatable).
    #[arg(long = "webseed")]
    webseeds: Vec<String>,
    /// Piece length in bytes (a power of two ≥ 16 KiB) [default: by size].
    #[arg(long)]
    piece_length: Option<u64>,
    /// Where to write the .torrent [default: <name>.torrent].
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// A private torrent (BEP 27): clients find its peers through its own
    /// trackers only (no DHT, no peer exchange).
    #[arg(long)]
    private: bool,
}

pub async fn run(a: CreateArgs) -> Result<(), String> {
    let opts = CreateOptions {
        trackers: a.trackers,
        webseeds: a.webseeds,
        piece_len: a.piece_length,
        private: a.private,
    };
    let (bytes, meta) = hash(&a.path, opts).await?;
    let out = a
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", meta.info.name)));
    std::fs::write(&out, &bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    println!("{}", webswarm_core::Magnet::of(&meta).to_uri());
    Ok(())
}

/// Hashes `path` on a worker thread with a progress bar.
pub async fn hash(
    path: &std::path::Path,
    opts: CreateOptions,
) -> Result<(Vec<u8>, webswarm_core::Metainfo), String> {
    if let Some(p) = opts.piece_len {
        if !p.is_power_of_two() || p < 16 << 10 {
            return Err(format!(
                "piece length {p} must be a power of two of at least 16384"
            ));
        }
    }
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bar = progress::bytes_bar(0, "hashing");
        let r = create_torrent(&path, &opts, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
        bar.finish_and_clear();
        r.map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

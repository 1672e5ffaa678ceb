//! `webswarm seed`.

use std::path::{Path, PathBuf};

use clap::Args;
use futures_util::future::join_all;
use webswarm_core::engine::{ByWire, WireBytes};
use webswarm_core::{Bitfield, Magnet, Metainfo};

use super::{progress, NetArgs};
use crate::create::CreateOptions;
use crate::session::{AddOptions, Client, TorrentHandle, What};

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Files or directories to share, or .torrent files whose data is in
    /// --dir; all are seeded by this one process.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where the data of a .torrent is [default: beside the .torrent].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Web seed URL to put in a torrent made from a path (BEP 19).
    #[arg(long = "webseed")]
    webseeds: Vec<String>,
    /// Piece length when hashing a path.
    #[arg(long)]
    piece_length: Option<u64>,
    /// Write the .torrent made from a path here (a directory when seeding several).
    #[arg(long)]
    torrent_out: Option<PathBuf>,
    /// Print a JSON status line on stdout every SECS seconds (peers,
    /// bytes uploaded, live tasks), for logs and monitoring.
    #[arg(long, value_name = "SECS")]
    status_every: Option<u64>,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn run(a: SeedArgs) -> Result<(), String> {
    let client = Client::new(a.net.client_config()?);
    // Files are read one torrent after another (hashing, checking); the
    // trackers' first answers are awaited together: one after another they
    // cost a seeder of a thousand torrents a thousand round trips.
    let mut added = Vec::with_capacity(a.paths.len());
    for path in &a.paths {
        added.push(add_one(&client, &a, path).await?);
    }
    let answers = added
        .iter()
        .map(|(h, _)| super::standing::wait_for_tracker(h));
    for (answer, (_, meta)) in join_all(answers).await.into_iter().zip(&added) {
        answer?;
        println!("{}", Magnet::of(meta).to_uri());
        eprintln!(
            "seeding {} ({})",
            meta.info.name,
            indicatif::HumanBytes(meta.info.layout.total_len())
        );
    }
    let handles: Vec<TorrentHandle> = added.into_iter().map(|(h, _)| h).collect();
    eprintln!("Ctrl-C to stop");
    let bar = indicatif::ProgressBar::new_spinner();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    let mut status = tokio::time::interval(std::time::Duration::from_secs(
        a.status_every.unwrap_or(3600).max(1),
    ));
    status.tick().await;
    // One listener for the whole loop: a Ctrl-C that arrives while another
    // branch runs would be missed by a listener made anew each turn.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut refusals: Vec<_> = handles
        .iter()
        .map(|_| super::standing::Refusals::default())
        .collect();
    loop {
        for (h, r) in handles.iter().zip(&mut refusals) {
            for line in r.news(h) {
                bar.suspend(|| eprintln!("{line}"));
            }
        }
        tokio::select! {
            _ = status.tick(), if a.status_every.is_some() => print_status(&handles),
            _ = tick.tick() => {
                let all: Vec<_> = handles.iter().map(|h| h.stats()).collect();
                let sum = webswarm_core::host::Stats {
                    peers: all.iter().map(|s| s.peers).sum(),
                    peers_by_wire: all.iter().fold(ByWire::default(), |a, s| a.plus(s.peers_by_wire)),
                    download_rate: all.iter().map(|s| s.download_rate).sum(),
                    upload_rate: all.iter().map(|s| s.upload_rate).sum(),
                    uploaded: all.iter().map(|s| s.uploaded).sum(),
                    ..Default::default()
                };
                bar.set_message(format!("{}  uploaded {}", progress::describe(&sum), indicatif::HumanBytes(sum.uploaded)));
                bar.tick();
            }
            _ = &mut ctrl_c => break,
        }
    }
    bar.finish_and_clear();
    for h in handles {
        h.stop().await;
    }
    Ok(())
}

/// Hashes (or checks) one path and adds it to the client.
async fn add_one(
    client: &Client,
    a: &SeedArgs,
    path: &Path,
) -> Result<(TorrentHandle, Metainfo), String> {
    if !path.exists() {
        return Err(format!(
            "cannot read {}: no such file or directory",
            path.display()
        ));
    }
    let is_torrent = path.extension().is_some_and(|e| e == "torrent") && path.is_file();
    let (meta, dir, verified) = if is_torrent {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let meta = Metainfo::from_bytes(&bytes)
            .map_err(|e| format!("{} is not a valid .torrent: {e}", path.display()))?;
        let dir = a.dir.clone().unwrap_or_else(|| super::parent(path));
        eprintln!("checking the data in {} …", dir.display());
        (meta, dir, None)
    } else {
        if a.net.trackers.is_empty() {
            return Err("give a tracker to seed to with --tracker ws://HOST:PORT".into());
        }
        let opts = CreateOptions {
            trackers: a.net.trackers.clone(),
            webseeds: a.webseeds.clone(),
            piece_len: a.piece_length,
            private: false,
        };
        let (bytes, meta) = super::create::hash(path, opts).await?;
        if let Some(out) = &a.torrent_out {
            let out = if a.paths.len() > 1 {
                out.join(format!("{}.torrent", meta.info.name))
            } else {
                out.clone()
            };
            std::fs::write(&out, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        }
        let all = Bitfield::full(meta.info.layout.num_pieces());
        (meta, super::parent(path), Some(all))
    };
    let add = AddOptions {
        what: What::Torrent(Box::new(meta.clone())),
        dir,
        trackers: a.net.trackers.clone(),
        verified,
        require_complete: true,
        webseeds: Vec::new(),
    };
    let h = client.add(add).await.map_err(|e| e.to_string())?;
    Ok((h, meta))
}

/// One JSON line: what a long-running seeder's supervisor (or the soak test)
/// watches for leaks and stalls.
fn print_status(handles: &[TorrentHandle]) {
    let all: Vec<_> = handles.iter().map(|h| h.stats()).collect();
    let mut line = serde_json::json!({
        "torrents": all.len(),
        "peers": all.iter().map(|s| s.peers).sum::<usize>(),
        "tcp_peers": all.iter().map(|s| s.peers_by_wire.tcp).sum::<usize>(),
        "utp_peers": all.iter().map(|s| s.peers_by_wire.utp).sum::<usize>(),
        "uploaded": all.iter().map(|s| s.uploaded).sum::<u64>(),
        "upload_rate": all.iter().map(|s| s.upload_rate).sum::<f64>().max(0.0).round(),
        "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        "rtc_tasks": webswarm_native::transport::runtime::live_tasks(),
    });
    let up = all
        .iter()
        .fold(WireBytes::default(), |a, s| a.plus(s.up_by_wire));
    line["uploaded_by_wire"] = super::summary::by_wire(up);
    println!("{line}");
}

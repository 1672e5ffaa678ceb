//! `webswarm seed`.

use std::path::{Path, PathBuf};

use clap::Args;
use webswarm_core::{Bitfield, Magnet, Metainfo};

use super::{progress, NetArgs};
use crate::session::{AddOptions, Client, What};

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// A file or directory to share, or a .torrent whose data is in --dir.
    path: PathBuf,
    /// Where the data of a .torrent is [default: beside the .torrent].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Web seed URL to put in a torrent made from a path (BEP 19).
    #[arg(long = "webseed")]
    webseeds: Vec<String>,
    /// Piece length when hashing a path.
    #[arg(long)]
    piece_length: Option<u64>,
    /// Write the .torrent made from a path here.
    #[arg(long)]
    torrent_out: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

pub fn magnet_of(meta: &Metainfo) -> String {
    let mut m = Magnet::new(meta.info.info_hash);
    m.name = Some(meta.info.name.clone());
    m.trackers = meta.tracker_urls();
    m.webseeds = meta.url_list.clone();
    m.to_uri()
}

pub async fn run(a: SeedArgs) -> Result<(), String> {
    if !a.path.exists() {
        return Err(format!(
            "cannot read {}: no such file or directory",
            a.path.display()
        ));
    }
    let is_torrent = a.path.extension().is_some_and(|e| e == "torrent") && a.path.is_file();
    let (meta, dir, verified) = if is_torrent {
        let bytes =
            std::fs::read(&a.path).map_err(|e| format!("cannot read {}: {e}", a.path.display()))?;
        let meta = Metainfo::from_bytes(&bytes)
            .map_err(|e| format!("{} is not a valid .torrent: {e}", a.path.display()))?;
        let dir = a.dir.clone().unwrap_or_else(|| parent(&a.path));
        (meta, dir, None)
    } else {
        if a.net.trackers.is_empty() {
            return Err("give a tracker to seed to with --tracker ws://HOST:PORT".into());
        }
        let (bytes, meta) = super::create::hash(
            &a.path,
            a.net.trackers.clone(),
            a.webseeds.clone(),
            a.piece_length,
        )
        .await?;
        if let Some(out) = &a.torrent_out {
            std::fs::write(out, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        }
        let all = Bitfield::full(meta.info.layout.num_pieces());
        let dir = parent(&a.path);
        (meta, dir, Some(all))
    };
    let client = Client::new(a.net.client_config());
    let checking = verified.is_none();
    if checking {
        eprintln!("checking the data in {} …", dir.display());
    }
    let h = client
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: dir.clone(),
            trackers: a.net.trackers.clone(),
            verified,
        })
        .await
        .map_err(|e| e.to_string())?;
    let s = h.stats();
    if !s.complete {
        return Err(format!(
            "wrong data on disk: only {} of {} pieces of {} in {} are correct",
            s.pieces_have,
            s.pieces,
            meta.info.name,
            dir.display()
        ));
    }
    super::wait_for_tracker(&h).await?;
    println!("{}", magnet_of(&meta));
    eprintln!(
        "seeding {} ({}); Ctrl-C to stop",
        meta.info.name,
        indicatif::HumanBytes(meta.info.layout.total_len())
    );
    let bar = indicatif::ProgressBar::new_spinner();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let s = h.stats();
                bar.set_message(format!("{}  uploaded {}", progress::describe(&s), indicatif::HumanBytes(s.uploaded)));
                bar.tick();
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    bar.finish_and_clear();
    h.stop().await;
    Ok(())
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

//! `webswarm get`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{progress, NetArgs};
use crate::session::{AddOptions, Client};

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Magnet link or .torrent file.
    torrent: String,
    /// Directory to download into.
    #[arg(long, short, default_value = ".")]
    output: PathBuf,
    /// Keep seeding after the download finishes (until Ctrl-C).
    #[arg(long)]
    seed: bool,
    /// BEP 19 webseed (HTTP base URL) besides the torrent's own; repeatable.
    #[arg(long = "webseed")]
    webseeds: Vec<String>,
    /// When done, print a JSON summary on stdout: time, rate, peers banned
    /// for bad data, and peers and bytes by kind (webrtc, tcp, webseed).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn run(a: GetArgs) -> Result<(), String> {
    let what = super::load_source(&a.torrent)?;
    let has_webseed = !a.webseeds.is_empty()
        || match &what {
            crate::session::What::Torrent(m) => !m.url_list.is_empty(),
            crate::session::What::Magnet(m) => !m.webseeds.is_empty(),
        };
    let client = Client::new(a.net.client_config()?);
    let h = client
        .add(AddOptions {
            what,
            dir: a.output.clone(),
            trackers: a.net.trackers.clone(),
            verified: None,
            require_complete: false,
            webseeds: a.webseeds.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let s = h.stats();
    if s.pieces_have > 0 {
        eprintln!(
            "resuming: {} of {} pieces already verified",
            s.pieces_have, s.pieces
        );
    }
    let unconfirmed = h.unconfirmed();
    if unconfirmed > 0 {
        eprintln!(
            "  {unconfirmed} of them from a resume record the files outgrew (the last run ended without stopping): hashed in the background, each before it is served"
        );
    }
    match super::standing::wait_for_tracker(&h).await {
        Err(e) if has_webseed => eprintln!("{e}; downloading from the webseed alone"),
        Err(e) if !h.classic_trackers().is_empty() => {
            eprintln!("{e}; looking for peers through the HTTP and UDP trackers")
        }
        r => r?,
    }
    let start = Instant::now();
    let bar = progress::bytes_bar(0, "downloading");
    let mut rx = h.watch();
    // One listener for the whole loop (see `seed`): none made anew each turn.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut refusals = super::standing::Refusals::default();
    let mut look = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        for line in refusals.news(&h) {
            bar.suspend(|| eprintln!("{line}"));
        }
        // Before the stats: see `unconfirmed`.
        let unconfirmed = h.unconfirmed();
        let s = rx.borrow_and_update().clone();
        if let Some(e) = s.error {
            bar.abandon();
            return Err(e);
        }
        if let (Some(total), Some(left)) = (s.total_len, s.left) {
            bar.set_length(total);
            bar.set_position(total - left);
            bar.set_message(progress::describe(&s));
        } else {
            bar.set_message(format!("fetching metadata from {} peers", s.peers));
        }
        if s.complete && unconfirmed == 0 {
            break;
        }
        let confirming = s.complete;
        if confirming {
            bar.set_message(format!(
                "hashing {unconfirmed} pieces from the resume record"
            ));
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Err("the download stopped".into()) },
            _ = look.tick() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)), if confirming => {}
            _ = &mut ctrl_c => {
                bar.abandon();
                h.stop().await;
                return Err("interrupted; run the same command again to resume".into());
            }
        }
    }
    bar.finish_and_clear();
    let s = h.stats();
    let total = s.total_len.unwrap_or(0);
    let secs = start.elapsed().as_secs_f64();
    // What this run fetched: a resumed download's rate is not its whole size over its time.
    let rate = s.downloaded as f64 / secs.max(1e-3) / 1e6;
    let first = s.first_piece_after.map(|d| d.as_secs_f64());
    let cpu = crate::util::cpu_seconds();
    let name = s.name.as_deref().unwrap_or_default();
    match first {
        // One parseable line: the benchmark reads it.
        Some(first) => eprintln!(
            "downloaded {name} ({total} bytes) in {secs:.2} s, {rate:.1} MB/s, first piece after {first:.2} s, fetched {} bytes, cpu {:.2} s",
            s.downloaded,
            cpu.unwrap_or(f64::NAN),
        ),
        None => eprintln!(
            "{name} ({total} bytes) was complete already: every piece verified on disk, nothing fetched"
        ),
    }
    if a.json {
        let mut v = super::summary::by_kind(&s);
        v["name"] = s.name.clone().into();
        v["bytes"] = total.into();
        v["seconds"] = secs.into();
        v["mb_per_s"] = rate.into();
        v["first_piece_seconds"] = first.into();
        v["cpu_seconds"] = cpu.into();
        v["banned"] = s.banned.into();
        println!("{v}");
    }
    if a.seed {
        eprintln!("seeding; Ctrl-C to stop");
        let _ = ctrl_c.await;
    }
    h.stop().await;
    Ok(())
}

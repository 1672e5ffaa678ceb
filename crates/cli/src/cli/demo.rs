//! `webswarm demo [FILE]`: tracker, native seeder with webseed, and the demo page.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use webswarm_core::Bitfield;

use crate::create::CreateOptions;
use crate::demo::{self, DemoInfo};
use crate::session::{AddOptions, Client, ClientConfig, What};
use crate::transport::webrtc_rs::RtcConfig;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// File or directory to share [default: a built-in sample video].
    file: Option<PathBuf>,
    /// Address for the page, the tracker and WebRTC.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// HTTP port for the page and the tracker (0: any free port).
    #[arg(long, default_value_t = 8700)]
    port: u16,
    /// The built browser package [default: $WEBSWARM_WEB_DIST, else web/dist].
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// Leave the webseed out of the torrent: browsers get the file over WebRTC only.
    #[arg(long)]
    no_webseed: bool,
    /// Piece length when hashing.
    #[arg(long)]
    piece_length: Option<u64>,
    /// Upload limit of the native seeder in bytes per second (500k, 2M).
    #[arg(long, value_parser = super::parse_rate)]
    max_upload_rate: Option<u64>,
}

pub async fn run(a: DemoArgs) -> Result<(), String> {
    let web_dir = a
        .web_dir
        .clone()
        .or_else(|| std::env::var_os("WEBSWARM_WEB_DIST").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("web/dist"));
    if !web_dir.join("index.js").is_file() || !web_dir.join("sw.js").is_file() {
        return Err(format!(
            "the browser package is not in {}: build it with `cargo xtask build-web`, \
             or run `cargo xtask demo`, which does both",
            web_dir.display()
        ));
    }
    let file = match &a.file {
        Some(f) if !f.exists() => return Err(format!("cannot read {}: no such file", f.display())),
        Some(f) => f.clone(),
        None => demo::sample_file()?,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(a.bind, a.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}:{}: {e} (choose another with --port)",
                a.bind, a.port
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = demo::base_url(addr);
    let tracker = format!("{}/announce", base.replacen("http", "ws", 1));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no file name", file.display()))?;
    // BEP 19: a URL ending in '/' is the folder holding the torrent's name.
    let webseed = (!a.no_webseed).then(|| format!("{base}/seed/"));
    let opts = CreateOptions {
        trackers: vec![tracker.clone()],
        webseeds: webseed.iter().cloned().collect(),
        piece_len: a.piece_length,
        private: false,
    };
    let (bytes, meta) = super::create::hash(&file, opts).await?;
    let info = DemoInfo {
        magnet: webswarm_core::Magnet::of(&meta).to_uri(),
        torrent: "/demo.torrent".into(),
        name: meta.info.name.clone(),
        length: meta.info.layout.total_len(),
        tracker: tracker.clone(),
        webseed: webseed.clone(),
        video: demo::is_video(&name),
    };
    let routes = demo::routes(info.clone(), bytes, &file, &web_dir);
    let app = webswarm_signaling::server::App::new(
        webswarm_signaling::config::Config::default(),
        crate::util::random_u64(),
    )
    .map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(webswarm_signaling::server::serve_with(
        app,
        listener,
        routes,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let client = Client::new(ClientConfig {
        rtc: if a.bind.is_unspecified() {
            RtcConfig::default()
        } else {
            RtcConfig {
                bind: vec![SocketAddr::new(a.bind, 0)],
                ..RtcConfig::default()
            }
        },
        max_upload_rate: a.max_upload_rate,
        ..ClientConfig::default()
    });
    let all = Bitfield::full(meta.info.layout.num_pieces());
    let dir = super::parent(&file);
    let h = client
        .add(AddOptions {
            what: What::Torrent(Box::new(meta)),
            dir,
            trackers: Vec::new(),
            verified: Some(all),
            require_complete: true,
            webseeds: Vec::new(),
        })
        .await
        .map_err(|e| e.to_string())?;
    super::standing::wait_for_tracker(&h).await?;
    println!("{}", info.magnet);
    println!("webswarm demo: open {base}/ in a browser");
    eprintln!(
        "seeding {} ({}) through the tracker at {tracker}{}; Ctrl-C to stop",
        info.name,
        indicatif::HumanBytes(info.length),
        match &webseed {
            Some(w) => format!(", webseed {w}"),
            None => String::new(),
        }
    );
    let _ = tokio::signal::ctrl_c().await;
    h.stop().await;
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(())
}

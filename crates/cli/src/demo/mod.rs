//! `webswarm demo`: one HTTP port serving the demo page, the browser
//! package, the file itself (the torrent's webseed) and the tracker.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::services::{ServeDir, ServeFile};

/// The sample video served when no file is given: 30 s of VP9 test
/// pattern (ffmpeg `testsrc2`), 1.9 MB.
pub const SAMPLE_VIDEO: &[u8] = include_bytes!("../../assets/sample.webm");
pub const SAMPLE_NAME: &str = "webswarm-sample.webm";

const PAGE: &str = include_str!("page.html");

/// What the page needs to know, served as `/demo.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoInfo {
    pub magnet: String,
    /// Path of the .torrent on this server.
    pub torrent: String,
    pub name: String,
    pub length: u64,
    pub tracker: String,
    pub webseed: Option<String>,
    /// The file plays in a `<video>` element (by its extension).
    pub video: bool,
}

/// Writes the built-in sample to a temporary directory (once) and returns its path.
pub fn sample_file() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join("webswarm-demo");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(SAMPLE_NAME);
    let same = std::fs::metadata(&path).is_ok_and(|m| m.len() == SAMPLE_VIDEO.len() as u64);
    if !same {
        std::fs::write(&path, SAMPLE_VIDEO)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(path)
}

pub fn is_video(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".webm", ".mp4", ".m4v", ".mkv", ".ogv", ".mov"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// The routes besides the tracker's. `file` is served at `/seed/<name>`
/// (a directory below it), with Range support: it is the torrent's webseed.
pub fn routes(info: DemoInfo, torrent: Vec<u8>, file: &Path, web_dir: &Path) -> Router {
    let seed_path = format!(
        "/seed/{}",
        webswarm_core::webseed::encode_segment(&info.name)
    );
    let seed: Router = if file.is_dir() {
        Router::new().nest_service(&seed_path, ServeDir::new(file))
    } else {
        Router::new().route_service(&seed_path, ServeFile::new(file))
    };
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/demo.json", get(move || async move { Json(info) }))
        .route(
            "/demo.torrent",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-bittorrent"),
                    )],
                    torrent,
                )
                    .into_response()
            }),
        )
        // A service worker controls the pages in its folder and below: it
        // must be served from the root to stream into this page.
        .route_service("/sw.js", ServeFile::new(web_dir.join("sw.js")))
        .nest_service("/webswarm", ServeDir::new(web_dir))
        .merge(seed)
}

/// The URL base other machines use: the bound address, or loopback for an
/// unspecified one.
pub fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".parse().expect("literal address")
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

//! A torrent as the page sees it: its description as JSON (parsed once by
//! the JS layer) and its changing numbers as an array of `f64`.

use webswarm_core::host::TorrentHost;
use webswarm_core::tracker::json::{write_str, write_u64};
use webswarm_core::{Magnet, Time};

/// The order of the numbers `stats` writes; `web/js/index.js` reads them so.
pub const STATS: usize = 13;

pub fn stats(h: &TorrentHost, now: Time, out: &mut Vec<f64>) {
    let s = h.stats(now);
    let b = |x: bool| f64::from(u8::from(x));
    out.clear();
    out.extend_from_slice(&[
        s.progress(),
        s.downloaded as f64,
        s.uploaded as f64,
        s.download_rate,
        s.upload_rate,
        s.webseed_rate,
        s.peers as f64,
        s.webseeds as f64,
        f64::from(s.banned),
        s.first_piece_after
            .map_or(-1.0, |d| d.as_secs_f64() * 1000.0),
        b(s.complete),
        b(s.paused),
        b(h.is_ready()),
    ]);
    debug_assert_eq!(out.len(), STATS);
}

fn field(o: &mut String, k: &str) {
    if !o.ends_with('{') {
        o.push(',');
    }
    write_str(o, k);
    o.push(':');
}

/// `{infoHash, peerId, magnet, name, length, pieceLength, files: [{name,
/// path, length, offset}], error}`; metadata fields are `null` until known.
pub fn meta(h: &TorrentHost, trackers: &[String]) -> String {
    let mut o = String::from("{");
    field(&mut o, "infoHash");
    write_str(&mut o, &h.info_hash().to_hex());
    field(&mut o, "peerId");
    write_str(&mut o, &h.peer_id().to_hex());
    let info = h.info();
    let mut m = Magnet::new(h.info_hash());
    m.name = info.map(|i| i.name.clone());
    m.trackers = trackers.to_vec();
    field(&mut o, "magnet");
    write_str(&mut o, &m.to_uri());
    field(&mut o, "error");
    match h.error() {
        Some(e) => write_str(&mut o, e),
        None => o.push_str("null"),
    }
    let Some(info) = info else {
        o.push_str(",\"name\":null,\"length\":null,\"pieceLength\":null,\"files\":[]}");
        return o;
    };
    field(&mut o, "name");
    write_str(&mut o, &info.name);
    field(&mut o, "length");
    write_u64(&mut o, info.layout.total_len());
    field(&mut o, "pieceLength");
    write_u64(&mut o, u64::from(info.layout.piece_len()));
    field(&mut o, "files");
    o.push('[');
    for f in info.files.iter().filter(|f| !f.padding) {
        if !o.ends_with('[') {
            o.push(',');
        }
        let mut path = info.name.clone();
        if info.multi_file {
            for part in &f.path {
                path.push('/');
                path.push_str(part);
            }
        }
        o.push('{');
        field(&mut o, "name");
        write_str(&mut o, f.path.last().unwrap_or(&info.name));
        field(&mut o, "path");
        write_str(&mut o, &path);
        field(&mut o, "length");
        write_u64(&mut o, f.length);
        field(&mut o, "offset");
        write_u64(&mut o, f.offset);
        o.push('}');
    }
    o.push_str("]}");
    o
}

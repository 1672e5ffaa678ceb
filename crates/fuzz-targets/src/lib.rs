//! The fuzz targets' bodies. Each takes any bytes and must not panic, hang
//! or grow memory without bound; where a parser has an encoder, what parses
//! must encode and parse back to the same value. `fuzz/` runs them under
//! libFuzzer (`cargo xtask fuzz`); `tests/corpus.rs` replays the committed
//! corpus and every crash found through them as ordinary tests.

mod cursor;
mod host;
mod parsers;
mod swarm;
mod tracker_client;

/// A target: any bytes in, a panic if something is wrong.
pub type Target = fn(&[u8]);

/// Every target by name: the name is its directory under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("bencode", parsers::bencode),
    ("metainfo", parsers::metainfo),
    ("magnet", parsers::magnet),
    ("wire", parsers::wire),
    ("tracker_json", parsers::tracker_json),
    ("swarm", swarm::run),
    ("host", host::run),
    ("tracker_client", tracker_client::run),
    ("ws_frames", parsers::ws_frames),
    ("cluster_wire", parsers::cluster_wire),
    ("classic", parsers::classic),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|t| t.0 == name).map(|t| t.1)
}

//! Magnet links (BEP 9): `xt=urn:btih:` in hex or base32, `dn`, `tr`, `ws`, `xs`, `so`.

use crate::types::InfoHash;
use crate::util::{base32_decode, base32_encode, percent_decode, percent_encode};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
/// A magnet link (BEP 9): what it names and where to look for it.
pub struct Magnet {
    /// From `xt=urn:btih:` (hex or base32).
    pub info_hash: Option<InfoHash>,
    /// `dn`: a display name.
    pub name: Option<String>,
    /// `tr`: trackers.
    pub trackers: Vec<String>,
    /// `ws`: BEP 19 webseeds.
    pub webseeds: Vec<String>,
    /// `xs`: URLs where the .torrent file can be fetched.
    pub exact_sources: Vec<String>,
    /// `so` (BEP 53): file indices to download; empty means all.
    pub select_only: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a magnet link was refused.
pub enum MagnetError {
    #[error("not a magnet link (it must start with `magnet:?`)")]
    /// It does not start with `magnet:?`.
    NotMagnet,
    #[error("magnet link has no `xt=urn:btih:` info-hash")]
    /// No `xt=urn:btih:` parameter.
    NoInfoHash,
    #[error("magnet info-hash {0:?} is neither 40 hex nor 32 base32 characters")]
    /// The info-hash is neither 40 hex nor 32 base32 characters.
    BadInfoHash(String),
    #[error("magnet parameter `{0}` has a malformed %-escape or is not UTF-8")]
    /// A `%` escape is malformed.
    BadEscape(String),
    #[error("magnet `so` value {0:?} is not a list of file indices or ranges")]
    /// `so` is not a list of file indices and ranges.
    BadSelectOnly(String),
}

/// Longest `so` range accepted, so a hostile link cannot make us allocate without bound.
const MAX_SELECT: u32 = 100_000;

impl Magnet {
    /// The info-hash (the one `parse` required).
    pub fn info_hash(&self) -> InfoHash {
        // parse() refuses links without an info-hash, and `new` requires one.
        self.info_hash.unwrap_or(InfoHash([0; 20]))
    }

    /// A link with only an info-hash.
    pub fn new(info_hash: InfoHash) -> Self {
        Magnet {
            info_hash: Some(info_hash),
            ..Default::default()
        }
    }

    /// Parses a link; unknown parameters are ignored.
    pub fn parse(link: &str) -> Result<Self, MagnetError> {
        let query = link
            .strip_prefix("magnet:?")
            .ok_or(MagnetError::NotMagnet)?;
        let mut m = Magnet::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(raw)
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| MagnetError::BadEscape(key.to_owned()))?;
            // `tr.1=` style numbered keys are common in the wild.
            let base = key.split('.').next().unwrap_or(key);
            match base {
                "xt" => {
                    if let Some(h) = value.strip_prefix("urn:btih:") {
                        m.info_hash = Some(parse_btih(h)?);
                    }
                }
                "dn" => m.name = Some(value),
                "tr" => push_unique(&mut m.trackers, value),
                "ws" => push_unique(&mut m.webseeds, value),
                "xs" | "as" => push_unique(&mut m.exact_sources, value),
                "so" => m.select_only = parse_select(&value)?,
                _ => {}
            }
        }
        if m.info_hash.is_none() {
            return Err(MagnetError::NoInfoHash);
        }
        Ok(m)
    }

    /// The link for a torrent: its info-hash, name, trackers and webseeds.
    pub fn of(meta: &crate::Metainfo) -> Self {
        let mut m = Magnet::new(meta.info.info_hash);
        m.name = Some(meta.info.name.clone());
        m.trackers = meta.tracker_urls();
        m.webseeds = meta.url_list.clone();
        m
    }

    /// Formats the link with a hex info-hash, as WebTorrent does.
    pub fn to_uri(&self) -> String {
        let mut s = format!("magnet:?xt=urn:btih:{}", self.info_hash().to_hex());
        if let Some(n) = &self.name {
            s.push_str("&dn=");
            s.push_str(&percent_encode(n));
        }
        for (k, list) in [
            ("tr", &self.trackers),
            ("ws", &self.webseeds),
            ("xs", &self.exact_sources),
        ] {
            for v in list {
                s.push_str(&format!("&{k}={}", percent_encode(v)));
            }
        }
        for (i, file) in self.select_only.iter().enumerate() {
            s.push_str(if i == 0 { "&so=" } else { "," });
            s.push_str(&file.to_string());
        }
        s
    }

    /// The info-hash in base32, as some clients write it.
    pub fn base32_info_hash(&self) -> String {
        base32_encode(&self.info_hash().0)
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn parse_btih(h: &str) -> Result<InfoHash, MagnetError> {
    let bytes = match h.len() {
        40 => crate::util::hex_decode(h),
        32 => base32_decode(h),
        _ => None,
    };
    bytes
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .map(InfoHash)
        .ok_or_else(|| MagnetError::BadInfoHash(h.to_owned()))
}

fn parse_select(v: &str) -> Result<Vec<u32>, MagnetError> {
    let bad = || MagnetError::BadSelectOnly(v.to_owned());
    let mut out = Vec::new();
    for part in v.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.trim().parse().map_err(|_| bad())?;
        let b: u32 = b.trim().parse().map_err(|_| bad())?;
        if b < a || out.len() as u32 + (b - a) >= MAX_SELECT {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    crate::sort::sort_by_key(&mut out, |&i| i);
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c";

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parses_every_field_and_round_trips() {
        let link = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny&tr=wss%3A%2F%2Ftracker.example&tr=ws://b&tr=ws://b&ws=https://seed/x&xs=https://x/t.torrent&so=0,2-4"
        );
        let m = Magnet::parse(&link).unwrap();
        assert_eq!(m.info_hash().to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("Big Buck Bunny"));
        assert_eq!(m.trackers, vec!["wss://tracker.example", "ws://b"]);
        assert_eq!(m.webseeds, vec!["https://seed/x"]);
        assert_eq!(m.exact_sources, vec!["https://x/t.torrent"]);
        assert_eq!(m.select_only, vec![0, 2, 3, 4]);
        assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn base32_and_hex_name_the_same_hash() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        let b32 = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{}",
            m.base32_info_hash().to_lowercase()
        ))
        .unwrap();
        assert_eq!(m.info_hash, b32.info_hash);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn refuses_bad_links_with_clear_errors() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MagnetError::NoInfoHash));
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:btih:abc"),
            Err(MagnetError::BadInfoHash(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=%G0")),
            Err(MagnetError::BadEscape(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0-4000000000")),
            Err(MagnetError::BadSelectOnly(_))
        ));
    }
}

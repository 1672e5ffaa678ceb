//! WebTorrent's "binary strings" (core's `tracker::binstr`) for serde.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

pub use webswarm_core::tracker::binstr::{decode as from_str, encode as to_string};

pub(crate) fn serialize<S: Serializer>(bytes: &[u8; 20], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_string(bytes))
}

struct BinVisitor;

impl Visitor<'_> for BinVisitor {
    type Value = [u8; 20];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 20-character binary string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        from_str(v).ok_or_else(|| E::custom("not a 20-character binary string"))
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 20], D::Error> {
    d.deserialize_str(BinVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_byte_value_round_trips_and_wrong_lengths_fail() {
        let mut b = [0u8; 20];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(13).wrapping_add(0xf0);
        }
        assert_eq!(from_str(&to_string(&b)), Some(b));
        assert_eq!(from_str(&"a".repeat(19)), None);
        assert_eq!(from_str(&"a".repeat(21)), None);
        assert_eq!(from_str(&format!("{}\u{100}", "a".repeat(19))), None);
        assert_eq!(from_str("0123456789abcdef0123456789abcdef01234567"), None);
    }
}

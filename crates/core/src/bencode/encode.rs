use super::Value;
use crate::vec_map::VecMap;

/// An owned bencode value; dictionaries are kept sorted as BEP 3 requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary; keys are kept sorted, as bencode requires.
    Dict(VecMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// A byte string value.
    pub fn bytes(b: impl AsRef<[u8]>) -> Self {
        OwnedValue::Bytes(b.as_ref().to_vec())
    }

    /// A dictionary of `entries` (their order does not matter).
    pub fn dict<K: AsRef<[u8]>>(entries: impl IntoIterator<Item = (K, OwnedValue)>) -> Self {
        OwnedValue::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_vec(), v))
                .collect(),
        )
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            OwnedValue::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            OwnedValue::Bytes(b) => put_bytes(out, b),
            OwnedValue::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode_into(out));
                out.push(b'e');
            }
            OwnedValue::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    put_bytes(out, k);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

impl From<&Value<'_>> for OwnedValue {
    fn from(v: &Value<'_>) -> Self {
        match v {
            Value::Int(i) => OwnedValue::Int(*i),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Value::List(l) => OwnedValue::List(l.iter().map(Into::into).collect()),
            Value::Dict(d) => OwnedValue::Dict(
                d.entries()
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.into()))
                    .collect(),
            ),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// The encoding of `v`.
pub fn encode(v: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::decode;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn encodes_sorted_dicts() {
        let v = OwnedValue::dict([
            ("zz", OwnedValue::Int(-1)),
            ("a", OwnedValue::List(vec![OwnedValue::bytes("x")])),
        ]);
        let out = encode(&v);
        assert_eq!(out, b"d1:al1:xe2:zzi-1ee");
        assert_eq!(OwnedValue::from(&decode(&out).unwrap()), v);
    }
}

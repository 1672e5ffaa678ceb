use super::BencodeError;

/// Nesting limit: real documents use 4–5 levels; hostile ones could recurse forever.
const MAX_DEPTH: usize = 64;

/// A decoded bencode value borrowing from its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer (`i…e`).
    Int(i64),
    /// A byte string (`<len>:…`), borrowed from the input.
    Bytes(&'a [u8]),
    /// A list (`l…e`).
    List(Vec<Value<'a>>),
    /// A dictionary (`d…e`), keys in the order they came.
    Dict(Dict<'a>),
}

/// A dictionary in input order, with the exact bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>)>,
    raw: &'a [u8],
}

impl<'a> Dict<'a> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// The exact bytes the dictionary was decoded from (an info dictionary's hash is over these).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
    /// Every entry, in input order.
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }
    /// `key`'s value if it is an integer.
    pub fn get_int(&self, key: &[u8]) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }
    /// `key`'s value if it is a byte string.
    pub fn get_bytes(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.get(key).and_then(Value::as_bytes)
    }
    /// `key`'s value if it is a UTF-8 byte string.
    pub fn get_str(&self, key: &[u8]) -> Option<&'a str> {
        self.get_bytes(key)
            .and_then(|b| std::str::from_utf8(b).ok())
    }
    /// `key`'s value if it is a dictionary.
    pub fn get_dict(&self, key: &[u8]) -> Option<&Dict<'a>> {
        self.get(key).and_then(Value::as_dict)
    }
    /// `key`'s value if it is a list.
    pub fn get_list(&self, key: &[u8]) -> Option<&[Value<'a>]> {
        self.get(key).and_then(Value::as_list)
    }
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The byte string as UTF-8, if it is one and valid.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

/// Decodes exactly one value spanning all of `input`.
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    let (value, used) = decode_prefix(input)?;
    match input.len() - used {
        0 => Ok(value),
        n => Err(BencodeError::TrailingBytes(n)),
    }
}

/// Decodes one value at the start of `input`, returning it and the bytes used
/// (ut_metadata puts raw data right after a dictionary).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), BencodeError> {
    let mut p = Parser { input, pos: 0 };
    let v = p.value(0)?;
    Ok((v, p.pos))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::UnexpectedEnd(self.pos))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, BencodeError> {
        if depth > MAX_DEPTH {
            return Err(BencodeError::TooDeep(MAX_DEPTH));
        }
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => self.dict(depth).map(Value::Dict),
            byte => Err(BencodeError::UnexpectedByte {
                byte,
                offset: self.pos,
            }),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Dict<'a>, BencodeError> {
        let start = self.pos;
        self.pos += 1;
        let mut entries: Vec<(&'a [u8], Value<'a>)> = Vec::new();
        while self.peek()? != b'e' {
            let key_at = self.pos;
            if !self.peek()?.is_ascii_digit() {
                return Err(BencodeError::UnexpectedByte {
                    byte: self.peek()?,
                    offset: key_at,
                });
            }
            let key = self.bytes()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(BencodeError::DuplicateKey(key_at));
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        self.pos += 1;
        Ok(Dict {
            entries,
            raw: &self.input[start..self.pos],
        })
    }

    fn int(&mut self) -> Result<i64, BencodeError> {
        let start = self.pos;
        self.pos += 1;
        let end = self.input[self.pos..]
            .iter()
            .position(|&b| b == b'e')
            .map(|i| self.pos + i)
            .ok_or(BencodeError::UnexpectedEnd(self.input.len()))?;
        let digits = &self.input[self.pos..end];
        let (neg, abs) = match digits.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, digits),
        };
        let canonical = !abs.is_empty()
            && abs.iter().all(u8::is_ascii_digit)
            && (abs == b"0" || abs[0] != b'0')
            && !(neg && abs == b"0");
        if !canonical {
            return Err(BencodeError::BadInteger(start));
        }
        // The digits are ASCII (checked above), so this is valid UTF-8.
        let text = std::str::from_utf8(digits).map_err(|_| BencodeError::BadInteger(start))?;
        let n = text.parse().map_err(|_| BencodeError::BadInteger(start))?;
        self.pos = end + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let start = self.pos;
        let colon = self.input[self.pos..]
            .iter()
            .take(21)
            .position(|&b| b == b':')
            .map(|i| self.pos + i)
            .ok_or(BencodeError::BadLength(start))?;
        let digits = &self.input[self.pos..colon];
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits.len() > 1 && digits[0] == b'0')
        {
            return Err(BencodeError::BadLength(start));
        }
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(BencodeError::BadLength(start))?;
        let data_start = colon + 1;
        let end = data_start
            .checked_add(len)
            .filter(|&e| e <= self.input.len())
            .ok_or(BencodeError::BadLength(start))?;
        self.pos = end;
        Ok(&self.input[data_start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn decodes_nested_values_and_keeps_raw_dict_bytes() {
        let doc = b"d4:infod6:lengthi5ee4:listli-3e3:abcee";
        let v = decode(doc).unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get_dict(b"info").unwrap().raw(), b"d6:lengthi5ee");
        assert_eq!(d.get_list(b"list").unwrap()[0], Value::Int(-3));
        assert_eq!(d.raw(), &doc[..]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn rejects_non_canonical_and_truncated_input() {
        for bad in [
            &b"i-0e"[..],
            b"i03e",
            b"ie",
            b"i1",
            b"01:a",
            b"5:abc",
            b"d1:ai1e1:ai2ee",
            b"di1ei2ee",
            b"l",
            b"x",
            b"i1ei2e",
            b"99999999999999999999999:a",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let mut doc = vec![b'l'; 100_000];
        doc.extend(vec![b'e'; 100_000]);
        assert_eq!(decode(&doc), Err(BencodeError::TooDeep(MAX_DEPTH)));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn prefix_decoding_reports_bytes_used() {
        let (v, used) = decode_prefix(b"d1:ai1eeRAW").unwrap();
        assert_eq!(used, 8);
        assert_eq!(v.as_dict().unwrap().get_int(b"a"), Some(1));
    }
}

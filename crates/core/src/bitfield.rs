//! A fixed-length set of pieces in BEP 3 bit order (piece 0 is the high bit of byte 0).

#[derive(Clone, PartialEq, Eq, Debug)]
/// Which pieces a peer (or we) have: one bit per piece, most significant bit
/// of the first byte first, as the `bitfield` message carries it.
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl Bitfield {
    /// `len` bits, all clear.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; len.div_ceil(8) as usize],
            len,
            ones: 0,
        }
    }

    /// `len` bits, all set.
    pub fn full(len: u32) -> Self {
        let mut b = Bitfield::new(len);
        (0..len).for_each(|i| {
            b.set(i);
        });
        b
    }

    /// Parses a wire bitfield; the length must match and the spare bits be zero.
    pub fn from_wire(bytes: &[u8], len: u32) -> Option<Self> {
        if bytes.len() != len.div_ceil(8) as usize {
            return None;
        }
        let spare = (8 - len % 8) % 8;
        if spare > 0 && bytes.last().is_some_and(|b| b & ((1u8 << spare) - 1) != 0) {
            return None;
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Some(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// The bytes as the wire carries them (spare bits clear).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Number of bits (pieces).
    pub fn len(&self) -> u32 {
        self.len
    }
    /// Whether it has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Number of set bits.
    pub fn count(&self) -> u32 {
        self.ones
    }
    /// Whether every bit is set.
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// Whether bit `i` is set (`false` beyond the end).
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets bit `i`; returns whether it changed. Out-of-range indices are ignored.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.ones += 1;
        true
    }

    /// Clears bit `i`; returns whether it was set.
    pub fn clear(&mut self, i: u32) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.ones -= 1;
        true
    }

    /// The indices of the set bits, in order.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn wire_form_checks_length_and_spare_bits() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0) && b.set(9) && !b.set(9) && !b.set(10));
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(Bitfield::from_wire(b.as_bytes(), 10).unwrap(), b);
        assert!(Bitfield::from_wire(&[0x80, 0x60], 10).is_none());
        assert!(Bitfield::from_wire(&[0x80], 10).is_none());
        assert_eq!(Bitfield::full(10).count(), 10);
        assert!(b.clear(0) && !b.clear(0));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![9]);
    }
}

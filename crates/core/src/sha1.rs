//! SHA-1. Natively the `sha1` crate (hardware instructions where the CPU has
//! them); in wasm a small rolled implementation, because every visitor
//! downloads the browser module and its hot hashing goes to WebCrypto anyway
//! (the crate's unrolled rounds cost 4.3 KB of the module; this costs ~0.7 KB).

/// SHA-1 of `data`, for hosts that hash pieces themselves without WebCrypto or a worker.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h = Sha1Hasher::default();
    h.update(data);
    h.finish()
}

/// Incremental SHA-1 for pieces stored as several blocks.
#[derive(Default, Clone)]
pub struct Sha1Hasher(Imp);

#[cfg(not(target_arch = "wasm32"))]
type Imp = ::sha1::Sha1;
#[cfg(target_arch = "wasm32")]
type Imp = small::Sha1;

impl Sha1Hasher {
    /// Hashes the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        #[cfg(not(target_arch = "wasm32"))]
        ::sha1::Digest::update(&mut self.0, data);
        #[cfg(target_arch = "wasm32")]
        self.0.update(data);
    }
    /// The SHA-1 of everything given.
    pub fn finish(self) -> [u8; 20] {
        #[cfg(not(target_arch = "wasm32"))]
        return ::sha1::Digest::finalize(self.0).into();
        #[cfg(target_arch = "wasm32")]
        self.0.finish()
    }
}

/// FIPS 180-4 SHA-1, one round function in a loop.
#[cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]
mod small {
    #[derive(Clone)]
    pub struct Sha1 {
        state: [u32; 5],
        block: [u8; 64],
        /// Bytes hashed so far; `len % 64` of them wait in `block`.
        len: u64,
    }

    impl Default for Sha1 {
        fn default() -> Self {
            Sha1 {
                state: [
                    0x6745_2301,
                    0xEFCD_AB89,
                    0x98BA_DCFE,
                    0x1032_5476,
                    0xC3D2_E1F0,
                ],
                block: [0; 64],
                len: 0,
            }
        }
    }

    impl Sha1 {
        pub fn update(&mut self, data: &[u8]) {
            for &b in data {
                self.block[(self.len % 64) as usize] = b;
                self.len += 1;
                if self.len % 64 == 0 {
                    self.compress();
                }
            }
        }

        pub fn finish(mut self) -> [u8; 20] {
            let bits = self.len.wrapping_mul(8);
            self.update(&[0x80]);
            while self.len % 64 != 56 {
                self.update(&[0]);
            }
            self.update(&bits.to_be_bytes());
            let mut out = [0; 20];
            for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
                o.copy_from_slice(&s.to_be_bytes());
            }
            out
        }

        fn compress(&mut self) {
            let mut w = [0u32; 80];
            for (i, c) in self.block.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = self.state;
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i / 20 {
                    0 => (b & c | !b & d, 0x5A82_7999),
                    1 => (b ^ c ^ d, 0x6ED9_EBA1),
                    2 => (b & c | b & d | c & d, 0x8F1B_BCDC),
                    _ => (b ^ c ^ d, 0xCA62_C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*wi);
                (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
            }
            for (s, v) in self.state.iter_mut().zip([a, b, c, d, e]) {
                *s = s.wrapping_add(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn known_digests() {
        let hex = |d: [u8; 20]| crate::hex_encode(&d);
        assert_eq!(
            hex(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(sha1(long)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        let mut small = small::Sha1::default();
        small.update(long);
        assert_eq!(
            hex(small.finish()),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// The small implementation agrees with the crate for any data fed in any pieces.
        #[test]
        fn small_matches_the_crate(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), cut in 0usize..300) {
            let cut = cut.min(data.len());
            let mut s = small::Sha1::default();
            s.update(&data[..cut]);
            s.update(&data[cut..]);
            proptest::prop_assert_eq!(s.finish(), sha1(&data));
        }
    }
}

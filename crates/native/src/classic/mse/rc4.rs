//! RC4, as Message Stream Encryption uses it: a 20-byte key, the first
//! 1024 bytes of keystream thrown away.

pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    pub fn new(key: &[u8]) -> Self {
        let mut s = [0u8; 256];
        for (i, x) in s.iter_mut().enumerate() {
            *x = i as u8;
        }
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, j as usize);
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// The MSE cipher: `key`'s stream after its first 1024 bytes.
    pub fn mse(key: &[u8]) -> Self {
        let mut r = Rc4::new(key);
        r.apply(&mut [0u8; 1024]);
        r
    }

    /// Encrypts or decrypts `data` in place.
    pub fn apply(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[self.i as usize]);
            self.s.swap(self.i as usize, self.j as usize);
            let k = self.s[self.i as usize].wrapping_add(self.s[self.j as usize]);
            *b ^= self.s[k as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6229_keystreams() {
        // 40-bit key 0102030405: offsets 0 and 1024 of the keystream.
        let key = [1, 2, 3, 4, 5];
        let cases = [
            (
                Rc4::new(&key),
                [0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d, 0xc0, 0x27],
            ),
            (
                Rc4::mse(&key),
                [0x30, 0xab, 0xbc, 0xc7, 0xc2, 0x0b, 0x01, 0x60],
            ),
        ];
        for (mut r, want) in cases {
            let mut out = [0u8; 8];
            r.apply(&mut out);
            assert_eq!(out, want);
        }
    }
}

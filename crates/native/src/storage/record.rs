//! The resume record: which pieces were verified, with each stored file's
//! size and modification time when the record was written. Pieces trusted
//! from an older record and not hashed since are listed apart
//! (`unconfirmed`), so a later record that the files match again does not
//! make them trusted outright.

use webswarm_core::bencode::{decode, encode, OwnedValue};
use webswarm_core::Bitfield;

/// A stored file's size and modification time (ns since the epoch; -1 where
/// the system could not tell).
pub(super) type Stamp = (i64, i64);

pub(super) struct Record {
    pub files: Vec<Stamp>,
    pub have: Bitfield,
    pub unconfirmed: Bitfield,
}

impl Record {
    /// The record in `bytes` if it is one for a torrent of `pieces` pieces;
    /// anything else is no record (the data is checked instead).
    pub fn parse(bytes: &[u8], pieces: u32) -> Option<Record> {
        let doc = decode(bytes).ok()?;
        let d = doc.as_dict()?;
        if u32::try_from(d.get_int(b"pieces")?).ok()? != pieces {
            return None;
        }
        let stamp = |v: &webswarm_core::bencode::Value| match v.as_list()? {
            [len, mtime] => Some((len.as_int()?, mtime.as_int()?)),
            _ => None,
        };
        let files = d
            .get_list(b"files")?
            .iter()
            .map(stamp)
            .collect::<Option<_>>()?;
        let have = Bitfield::from_wire(d.get_bytes(b"have")?, pieces)?;
        let unconfirmed = match d.get_bytes(b"unconfirmed") {
            Some(b) => Bitfield::from_wire(b, pieces)?,
            None => Bitfield::new(pieces),
        };
        Some(Record {
            files,
            have,
            unconfirmed,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let files = self.files.iter().map(|&(len, mtime)| {
            OwnedValue::List(vec![OwnedValue::Int(len), OwnedValue::Int(mtime)])
        });
        let mut entries = vec![
            ("files", OwnedValue::List(files.collect())),
            ("have", OwnedValue::bytes(self.have.as_bytes())),
            ("pieces", OwnedValue::Int(i64::from(self.have.len()))),
        ];
        if self.unconfirmed.count() > 0 {
            entries.push((
                "unconfirmed",
                OwnedValue::bytes(self.unconfirmed.as_bytes()),
            ));
        }
        encode(&OwnedValue::dict(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_foreign_one_is_none() {
        let mut have = Bitfield::new(10);
        have.set(3);
        have.set(9);
        let mut unconfirmed = Bitfield::new(10);
        unconfirmed.set(9);
        let r = Record {
            files: vec![(100, 5), (-1, -1)],
            have,
            unconfirmed,
        };
        let back = Record::parse(&r.encode(), 10).unwrap();
        assert_eq!(back.files, r.files);
        assert_eq!(back.have, r.have);
        assert_eq!(back.unconfirmed, r.unconfirmed);
        assert!(Record::parse(&r.encode(), 11).is_none());
        assert!(Record::parse(b"d5:filesi1ee", 10).is_none());
        assert!(Record::parse(b"\xff", 10).is_none());
    }
}

//! The compact flag set kept per message: five system flags as bits plus
//! keywords, sorted and free of duplicates (flag names are
//! case-insensitive, RFC 9051 §2.3.2).

use crate::codec::{Dec, Put};
use crate::{Flag, FlagOp, StoreError};

const SEEN: u8 = 1;
const ANSWERED: u8 = 2;
const FLAGGED: u8 = 4;
const DELETED: u8 = 8;
const DRAFT: u8 = 16;
const ALL_BITS: u8 = SEEN | ANSWERED | FLAGGED | DELETED | DRAFT;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlagSet {
    bits: u8,
    keywords: Vec<String>,
}

impl FlagSet {
    pub(crate) fn from_flags(flags: &[Flag]) -> Self {
        let mut set = FlagSet::default();
        for flag in flags {
            match flag {
                Flag::Seen => set.bits |= SEEN,
                Flag::Answered => set.bits |= ANSWERED,
                Flag::Flagged => set.bits |= FLAGGED,
                Flag::Deleted => set.bits |= DELETED,
                Flag::Draft => set.bits |= DRAFT,
                Flag::Keyword(k) => set.add_keyword(k),
            }
        }
        set
    }

    pub(crate) fn to_flags(&self) -> Vec<Flag> {
        let mut out = Vec::with_capacity(self.bits.count_ones() as usize + self.keywords.len());
        for (bit, flag) in [(SEEN, Flag::Seen), (ANSWERED, Flag::Answered), (FLAGGED, Flag::Flagged)]
            .into_iter()
            .chain([(DELETED, Flag::Deleted), (DRAFT, Flag::Draft)])
        {
            if self.bits & bit != 0 {
                out.push(flag);
            }
        }
        out.extend(self.keywords.iter().map(|k| Flag::Keyword(k.clone())));
        out
    }

    pub(crate) fn seen(&self) -> bool {
        self.bits & SEEN != 0
    }

    fn position(&self, keyword: &str) -> Result<usize, usize> {
        self.keywords.binary_search_by(|k| cmp_ignore_case(k, keyword))
    }

    fn add_keyword(&mut self, keyword: &str) {
        if let Err(at) = self.position(keyword) {
            self.keywords.insert(at, keyword.to_owned());
        }
    }

    /// The flags after STORE `op` with `given`.
    pub(crate) fn combine(&self, op: FlagOp, given: &FlagSet) -> FlagSet {
        match op {
            FlagOp::Replace => given.clone(),
            FlagOp::Add => {
                let mut out = self.clone();
                out.bits |= given.bits;
                for k in &given.keywords {
                    out.add_keyword(k);
                }
                out
            }
            FlagOp::Remove => {
                let mut out = self.clone();
                out.bits &= !given.bits;
                out.keywords.retain(|k| given.position(k).is_err());
                out
            }
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.bits);
        out.put_len(self.keywords.len());
        for k in &self.keywords {
            out.put_str(k);
        }
    }

    pub(crate) fn decode(dec: &mut Dec<'_>) -> Result<Self, StoreError> {
        let bits = dec.u8()? & ALL_BITS;
        let n = dec.len(4)?;
        let mut set = FlagSet { bits, keywords: Vec::with_capacity(n) };
        for _ in 0..n {
            set.add_keyword(&dec.str()?);
        }
        Ok(set)
    }
}

fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

pub(crate) fn encode_op(op: FlagOp) -> u8 {
    match op {
        FlagOp::Add => 0,
        FlagOp::Remove => 1,
        FlagOp::Replace => 2,
    }
}

pub(crate) fn decode_op(dec: &mut Dec<'_>) -> Result<FlagOp, StoreError> {
    match dec.u8()? {
        0 => Ok(FlagOp::Add),
        1 => Ok(FlagOp::Remove),
        2 => Ok(FlagOp::Replace),
        other => Err(crate::codec::corrupt(format!("bad flag operation {other}"))),
    }
}

//! Little-endian binary encoding shared by journal records and snapshots.
//! Decoding never panics and never allocates more than the input could
//! hold: damaged input becomes [`StoreError::Corrupt`].

use crate::StoreError;

pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_i64(&mut self, v: i64);
    fn put_u128(&mut self, v: u128);
    fn put_str(&mut self, v: &str);
    fn put_opt_u128(&mut self, v: Option<u128>);
    /// A collection length; collections are bounded by u32 everywhere.
    fn put_len(&mut self, n: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u128(&mut self, v: u128) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_str(&mut self, v: &str) {
        self.put_len(v.len());
        self.extend_from_slice(v.as_bytes());
    }
    fn put_opt_u128(&mut self, v: Option<u128>) {
        match v {
            None => self.put_u8(0),
            Some(v) => {
                self.put_u8(1);
                self.put_u128(v);
            }
        }
    }
    fn put_len(&mut self, n: usize) {
        self.put_u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A cursor over bytes to decode.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let end =
            self.pos.checked_add(N).filter(|&end| end <= self.buf.len()).ok_or_else(|| corrupt("record ends early"))?;
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    pub(crate) fn u128(&mut self) -> Result<u128, StoreError> {
        Ok(u128::from_le_bytes(self.take()?))
    }
    pub(crate) fn bool(&mut self) -> Result<bool, StoreError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(corrupt(format!("bad boolean {other}"))),
        }
    }
    pub(crate) fn opt_u128(&mut self) -> Result<Option<u128>, StoreError> {
        Ok(if self.bool()? { Some(self.u128()?) } else { None })
    }

    /// A collection length whose elements take at least `min_elem` bytes
    /// each, checked against what is left so a bad length cannot make us
    /// allocate gigabytes.
    pub(crate) fn len(&mut self, min_elem: usize) -> Result<usize, StoreError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_elem.max(1)) > self.buf.len() - self.pos {
            return Err(corrupt(format!("length {n} exceeds record")));
        }
        Ok(n)
    }

    pub(crate) fn str(&mut self) -> Result<String, StoreError> {
        let n = self.len(1)?;
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("name is not utf-8"))
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<(), StoreError> {
        if self.pos == self.buf.len() { Ok(()) } else { Err(corrupt("trailing bytes in record")) }
    }
}

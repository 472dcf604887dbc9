//! Primitive readers and writers over byte slices: little-endian integers, option tags,
//! length-prefixed byte strings and UTF-8 strings.
//!
//! Promise: a [`Reader`] never reads past its slice and never allocates; every length
//! field is compared with its limit and with the bytes that remain before it is used, so
//! a hostile length can only produce an error. Decoded strings and byte strings borrow
//! from the input. The writers check the same limits the readers enforce, so whatever
//! encodes also decodes.

use std::borrow::Cow;

use crate::error::ProtocolError;

pub(crate) type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// A cursor over one frame's payload.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Errors if any bytes are left: a payload must be consumed exactly.
    pub(crate) fn finish(&self) -> Result<()> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(ProtocolError::TrailingBytes(n)),
        }
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(ProtocolError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u128(&mut self, what: &'static str) -> Result<u128> {
        Ok(u128::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn id16(&mut self, what: &'static str) -> Result<[u8; 16]> {
        self.array(what)
    }

    /// A byte that must be 0 (false) or 1 (true).
    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(ProtocolError::InvalidValue {
                what,
                value: u64::from(v),
            }),
        }
    }

    /// An option tag: 0 = absent, 1 = present.
    pub(crate) fn opt<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Option<T>> {
        if self.bool(what)? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn sized(&mut self, len: usize, max: usize, what: &'static str) -> Result<&'a [u8]> {
        if len > max {
            return Err(ProtocolError::TooLong { what, len, max });
        }
        self.take(len, what)
    }

    /// `u16 len | bytes`, len <= max.
    pub(crate) fn bytes16(&mut self, max: usize, what: &'static str) -> Result<Cow<'a, [u8]>> {
        let len = self.u16(what)? as usize;
        self.sized(len, max, what).map(Cow::Borrowed)
    }

    /// `u32 len | bytes`, len <= max.
    pub(crate) fn bytes32(&mut self, max: usize, what: &'static str) -> Result<Cow<'a, [u8]>> {
        let len = self.u32(what)? as usize;
        self.sized(len, max, what).map(Cow::Borrowed)
    }

    /// `u16 len | UTF-8`, len <= max.
    pub(crate) fn str16(&mut self, max: usize, what: &'static str) -> Result<Cow<'a, str>> {
        let len = self.u16(what)? as usize;
        utf8(self.sized(len, max, what)?, what)
    }

    /// `u32 len | UTF-8`, len <= max.
    pub(crate) fn str32(&mut self, max: usize, what: &'static str) -> Result<Cow<'a, str>> {
        let len = self.u32(what)? as usize;
        utf8(self.sized(len, max, what)?, what)
    }

    /// A `u8` count checked against `max` (not empty-checked).
    pub(crate) fn count8(&mut self, max: usize, what: &'static str) -> Result<usize> {
        let n = self.u8(what)? as usize;
        check_count(n, max, what)?;
        Ok(n)
    }

    /// A `u16` count checked against `max`.
    pub(crate) fn count16(&mut self, max: usize, what: &'static str) -> Result<usize> {
        let n = self.u16(what)? as usize;
        check_count(n, max, what)?;
        Ok(n)
    }

    /// A batch count (`u32`): `1..=max` when `nonempty`, else `0..=max`.
    pub(crate) fn batch(
        &mut self,
        max: usize,
        nonempty: bool,
        what: &'static str,
    ) -> Result<usize> {
        let n = self.u32(what)? as usize;
        check_batch(n, max, nonempty, what)?;
        Ok(n)
    }

    /// A capacity to reserve for `count` entries of at least `min_entry` bytes each: never
    /// more than the remaining bytes could hold.
    pub(crate) fn capacity(&self, count: usize, min_entry: usize) -> usize {
        count.min(self.remaining() / min_entry.max(1))
    }
}

fn utf8<'a>(b: &'a [u8], what: &'static str) -> Result<Cow<'a, str>> {
    std::str::from_utf8(b)
        .map(Cow::Borrowed)
        .map_err(|_| ProtocolError::InvalidUtf8(what))
}

pub(crate) fn check_count(count: usize, max: usize, what: &'static str) -> Result<()> {
    if count > max {
        return Err(ProtocolError::TooMany { what, count, max });
    }
    Ok(())
}

pub(crate) fn check_batch(
    count: usize,
    max: usize,
    nonempty: bool,
    what: &'static str,
) -> Result<()> {
    if count > max {
        return Err(ProtocolError::BatchTooLarge { count, max });
    }
    if nonempty && count == 0 {
        return Err(ProtocolError::EmptyBatch(what));
    }
    Ok(())
}

fn check_len(len: usize, max: usize, what: &'static str) -> Result<()> {
    if len > max {
        return Err(ProtocolError::TooLong { what, len, max });
    }
    Ok(())
}

/// Writers; each checks the limit its reader enforces. With no output (`out: None`) a
/// writer only checks: [`crate::Request::check_limits`] runs the encoder that way, so a
/// request that never crosses a socket (the SQS API's, routed inside the daemon) is held
/// to the same limits without being copied.
pub(crate) struct Writer<'o> {
    pub(crate) out: Option<&'o mut Vec<u8>>,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(o) = self.out.as_deref_mut() {
            o.extend_from_slice(b);
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u128(&mut self, v: u128) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.put(b);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    pub(crate) fn opt<T>(
        &mut self,
        v: Option<T>,
        f: impl FnOnce(&mut Self, T) -> Result<()>,
    ) -> Result<()> {
        match v {
            None => {
                self.u8(0);
                Ok(())
            }
            Some(x) => {
                self.u8(1);
                f(self, x)
            }
        }
    }

    pub(crate) fn bytes16(&mut self, b: &[u8], max: usize, what: &'static str) -> Result<()> {
        check_len(b.len(), max.min(u16::MAX as usize), what)?;
        self.u16(b.len() as u16);
        self.raw(b);
        Ok(())
    }

    pub(crate) fn bytes32(&mut self, b: &[u8], max: usize, what: &'static str) -> Result<()> {
        check_len(b.len(), max.min(u32::MAX as usize), what)?;
        self.u32(b.len() as u32);
        self.raw(b);
        Ok(())
    }

    pub(crate) fn str16(&mut self, s: &str, max: usize, what: &'static str) -> Result<()> {
        self.bytes16(s.as_bytes(), max, what)
    }

    pub(crate) fn str32(&mut self, s: &str, max: usize, what: &'static str) -> Result<()> {
        self.bytes32(s.as_bytes(), max, what)
    }

    pub(crate) fn count8(&mut self, n: usize, max: usize, what: &'static str) -> Result<()> {
        check_count(n, max.min(u8::MAX as usize), what)?;
        self.u8(n as u8);
        Ok(())
    }

    pub(crate) fn count16(&mut self, n: usize, max: usize, what: &'static str) -> Result<()> {
        check_count(n, max.min(u16::MAX as usize), what)?;
        self.u16(n as u16);
        Ok(())
    }

    pub(crate) fn batch(
        &mut self,
        n: usize,
        max: usize,
        nonempty: bool,
        what: &'static str,
    ) -> Result<()> {
        check_batch(n, max.min(u32::MAX as usize), nonempty, what)?;
        self.u32(n as u32);
        Ok(())
    }
}

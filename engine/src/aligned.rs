//! A growable byte buffer whose memory is aligned to 4 KiB, for O_DIRECT writes (which
//! need the buffer, the file offset and the length aligned to the logical block size).
//!
//! Memory comes in 4 KiB blocks of a `Vec`, so growth keeps the alignment. Buffers are
//! reused through the partition's pool: freshly allocated memory is slow to first touch
//! on these machines, so a buffer that has grown once keeps its blocks.

/// Alignment of the buffer, of O_DIRECT offsets and of lengths.
pub const ALIGN: usize = 4096;

#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Block([u8; ALIGN]);

/// Where encoders write: a `Vec<u8>` or an [`AlignedBuf`].
pub trait Sink {
    fn len(&self) -> usize;
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn extend_from_slice(&mut self, s: &[u8]);
    fn push(&mut self, b: u8) {
        self.extend_from_slice(&[b]);
    }
    fn bytes(&self) -> &[u8];
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl Sink for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn extend_from_slice(&mut self, s: &[u8]) {
        Vec::extend_from_slice(self, s);
    }
    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[derive(Clone, Default)]
pub struct AlignedBuf {
    blocks: Vec<Block>,
    len: usize,
}

impl AlignedBuf {
    pub fn new() -> Self {
        AlignedBuf::default()
    }

    /// Bytes of memory the buffer holds.
    pub fn capacity(&self) -> usize {
        self.blocks.len() * ALIGN
    }

    fn all(&self) -> &[u8] {
        // SAFETY: `Block` is `repr(C)` around a byte array, so the Vec's elements are
        // `blocks.len() * ALIGN` contiguous, initialized bytes.
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<u8>(), self.capacity()) }
    }

    fn all_mut(&mut self) -> &mut [u8] {
        let cap = self.capacity();
        // SAFETY: as in `all`; the exclusive borrow of self makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast::<u8>(), cap) }
    }

    /// Makes room for `additional` more bytes (doubling, so appends are amortized O(1)).
    pub fn reserve(&mut self, additional: usize) {
        let need = (self.len + additional).div_ceil(ALIGN);
        if need > self.blocks.len() {
            let grow = need.max(self.blocks.len() * 2);
            self.blocks.resize(grow, Block([0; ALIGN]));
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends zeros up to the next multiple of [`ALIGN`].
    pub fn pad_to_align(&mut self) {
        let target = self.len.next_multiple_of(ALIGN);
        self.resize_zeroed(target);
    }

    /// Grows to `len` bytes, the new ones zero.
    pub fn resize_zeroed(&mut self, len: usize) {
        if len <= self.len {
            return;
        }
        self.reserve(len - self.len);
        let old = self.len;
        self.all_mut()[old..len].fill(0);
        self.len = len;
    }

    /// Inserts `gap` zero bytes at `at`, moving what follows (used to put a page prefix
    /// in front of a record already encoded).
    pub fn insert_zeroed(&mut self, at: usize, gap: usize) {
        debug_assert!(at <= self.len);
        self.reserve(gap);
        let len = self.len;
        let all = self.all_mut();
        all.copy_within(at..len, at + gap);
        all[at..at + gap].fill(0);
        self.len += gap;
    }

    /// Bytes up to the next multiple of [`ALIGN`] past `end` (the padding is part of
    /// the buffer's zeroed or stale capacity; callers zero it with `pad_to_align` first).
    pub fn aligned(&self, start: usize, end: usize) -> &[u8] {
        debug_assert_eq!(start % ALIGN, 0);
        &self.all()[start..end.next_multiple_of(ALIGN).min(self.capacity())]
    }
}

impl Sink for AlignedBuf {
    fn len(&self) -> usize {
        self.len
    }
    fn extend_from_slice(&mut self, s: &[u8]) {
        self.reserve(s.len());
        let at = self.len;
        self.all_mut()[at..at + s.len()].copy_from_slice(s);
        self.len += s.len();
    }
    fn bytes(&self) -> &[u8] {
        &self.all()[..self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.all_mut()[..len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_aligned_while_growing() {
        let mut b = AlignedBuf::new();
        for i in 0..20_000u32 {
            b.extend_from_slice(&i.to_le_bytes());
            assert_eq!(b.bytes().as_ptr() as usize % ALIGN, 0);
        }
        assert_eq!(b.len(), 80_000);
        assert_eq!(&b.bytes()[4..8], &1u32.to_le_bytes());
        b.pad_to_align();
        assert_eq!(b.len() % ALIGN, 0);
        assert!(b.bytes()[80_000..].iter().all(|&x| x == 0));
        b.insert_zeroed(4, 3);
        assert_eq!(&b.bytes()[..4], &0u32.to_le_bytes());
        assert_eq!(&b.bytes()[4..7], &[0, 0, 0]);
        assert_eq!(&b.bytes()[7..11], &1u32.to_le_bytes());
        b.clear();
        assert!(b.is_empty());
    }
}

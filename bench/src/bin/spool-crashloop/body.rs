//! Message identity and bodies: a seeded random source, a CRC-32 (no dependency, so the
//! check shares no code with what it checks), the identity every message carries, and the
//! making and checking of self-describing bodies.

/// splitmix64: seeded, reproducible choices.
#[derive(Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(crate) fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for p in parts {
        for &b in *p {
            crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

// ----- message identity and bodies ---------------------------------------------------------

/// A message: its queue, its stream (a standard producer or a FIFO group) and its sequence
/// number in that stream (increasing across rounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Id {
    pub(crate) fifo: bool,
    pub(crate) stream: usize,
    pub(crate) seq: u64,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.fifo {
            "fifo group"
        } else {
            "std producer"
        };
        write!(f, "{kind} {} seq {}", self.stream, self.seq)
    }
}

pub(crate) const MAGIC: &str = "crashloop1";

/// `crashloop1 <s|f> <stream> <seq> <round> <len> <crc32 hex>\n<len payload bytes>`; the
/// CRC covers the header before it and the payload.
pub(crate) fn make_body(id: Id, round: u64, len: usize) -> Vec<u8> {
    let kind = if id.fifo { 'f' } else { 's' };
    let head = format!("{MAGIC} {kind} {} {} {round} {len} ", id.stream, id.seq);
    let mut r = Rng(id.seq ^ ((id.stream as u64) << 48) ^ u64::from(id.fifo) << 63);
    let payload: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
    let crc = crc32(&[head.as_bytes(), &payload]);
    let mut b = head.into_bytes();
    b.extend_from_slice(format!("{crc:08x}\n").as_bytes());
    b.extend_from_slice(&payload);
    b
}

/// What is wrong with a received body (a violation).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("no header line")]
    NoHeader,
    #[error("header is not UTF-8")]
    HeaderNotUtf8,
    #[error("malformed header {0:?}")]
    Malformed(String),
    #[error("bad number in {0:?}")]
    BadNumber(String),
    #[error("bad kind in {0:?}")]
    BadKind(String),
    #[error("{id}: payload of {got} bytes, header says {said}")]
    Length { id: Id, got: usize, said: usize },
    #[error("{id}: CRC {crc:08x}, header says {said}")]
    Crc { id: Id, crc: u32, said: String },
}

/// The identity and round of an intact body, or what is wrong with it.
pub(crate) fn parse_body(b: &[u8]) -> Result<(Id, u64), BodyError> {
    let nl = b
        .iter()
        .position(|&c| c == b'\n')
        .ok_or(BodyError::NoHeader)?;
    let head = std::str::from_utf8(&b[..nl]).map_err(|_| BodyError::HeaderNotUtf8)?;
    let payload = &b[nl + 1..];
    let f: Vec<&str> = head.split(' ').collect();
    if f.len() != 7 || f[0] != MAGIC {
        return Err(BodyError::Malformed(head.to_string()));
    }
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| BodyError::BadNumber(head.to_string()))
    };
    let id = Id {
        fifo: match f[1] {
            "f" => true,
            "s" => false,
            _ => return Err(BodyError::BadKind(head.to_string())),
        },
        stream: num(f[2])? as usize,
        seq: num(f[3])?,
    };
    let round = num(f[4])?;
    let len = num(f[5])? as usize;
    if payload.len() != len {
        return Err(BodyError::Length {
            id,
            got: payload.len(),
            said: len,
        });
    }
    let prefix_len = head.len() - f[6].len();
    let crc = crc32(&[&b[..prefix_len], payload]);
    if format!("{crc:08x}") != f[6] {
        return Err(BodyError::Crc {
            id,
            crc,
            said: f[6].to_string(),
        });
    }
    Ok((id, round))
}

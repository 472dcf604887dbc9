//! Frames: `u32 length | u8 version | u8 opcode | u16 flags | u64 request id | payload`,
//! little endian, where `length` counts every byte after the length field itself.
//!
//! [`decode_frame`] is a streaming decoder over whatever bytes have arrived: it returns
//! `Ok(None)` until a whole frame is buffered and rejects a declared length below the
//! header size or above the caller's maximum as soon as the 4-byte length is readable,
//! before anything is allocated or awaited. A decoded [`Frame`] borrows its payload from
//! the input. `encode_frame` writes a frame around a payload writer and patches the
//! length in afterwards.

use crate::error::ProtocolError;
use crate::wire::{Result, Writer};
use crate::{MAX_VERSION, MIN_VERSION, VERSION};

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;
/// Bytes of the header after the length prefix (version, opcode, flags, request id).
pub const HEADER_AFTER_LENGTH: usize = 12;
/// Bytes of a whole frame header, length prefix included.
pub const HEADER_LEN: usize = LENGTH_PREFIX_LEN + HEADER_AFTER_LENGTH;
/// The request id of the server's connection-level errors (an Error that answers no request
/// and ends the connection). Reserved: a client request carrying it is refused
/// (docs/protocol.md, "Pipelining").
pub const CONNECTION_ERROR_REQUEST_ID: u64 = 0;

/// One frame as read from the wire. `payload` borrows from the decoder's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The protocol version the frame is written in.
    pub version: u8,
    /// A request opcode, a response opcode (request | 0x80) or 0xFF (Error).
    pub opcode: u8,
    /// Reserved: senders write 0, receivers ignore bits they do not know.
    pub flags: u16,
    /// Chosen by the client; the response to a request carries the same id.
    pub request_id: u64,
    /// The payload, after the header.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Bytes this frame occupies on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends this frame as it is (its own version and flags) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_frame_with(
            out,
            self.version,
            self.opcode,
            self.flags,
            self.request_id,
            |w| {
                w.raw(self.payload);
                Ok(())
            },
        )
    }
}

/// Decodes the frame at the start of `buf`.
///
/// - `Ok(None)`: more bytes are needed (never for a length that is already known to be
///   invalid).
/// - `Ok(Some((frame, consumed)))`: a frame, and the bytes it took from `buf`.
/// - `Err(e)`: the stream is unusable ([`ProtocolError::is_fatal`] is true): a declared
///   length below the header size or making the frame larger than `max_frame` bytes
///   (length prefix included), or a version outside `MIN_VERSION..=MAX_VERSION`.
pub fn decode_frame(buf: &[u8], max_frame: usize) -> Result<Option<(Frame<'_>, usize)>> {
    let Some(len_bytes) = buf.get(..LENGTH_PREFIX_LEN) else {
        return Ok(None);
    };
    let mut a = [0u8; 4];
    a.copy_from_slice(len_bytes);
    let len = u32::from_le_bytes(a);
    if (len as usize) < HEADER_AFTER_LENGTH {
        return Err(ProtocolError::FrameTooShort { len });
    }
    let total = LENGTH_PREFIX_LEN as u64 + u64::from(len);
    if total > max_frame as u64 {
        return Err(ProtocolError::FrameTooLarge {
            len: total,
            max: max_frame,
        });
    }
    if let Some(&version) = buf.get(LENGTH_PREFIX_LEN) {
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(ProtocolError::UnsupportedVersion(version));
        }
    }
    // total <= max_frame, so it fits in usize.
    let total = total as usize;
    let Some(frame) = buf.get(..total) else {
        return Ok(None);
    };
    let mut rid = [0u8; 8];
    rid.copy_from_slice(&frame[8..16]);
    Ok(Some((
        Frame {
            version: frame[4],
            opcode: frame[5],
            flags: u16::from_le_bytes([frame[6], frame[7]]),
            request_id: u64::from_le_bytes(rid),
            payload: &frame[HEADER_LEN..],
        },
        total,
    )))
}

/// Appends a frame of the current [`VERSION`] with flags 0; `payload` writes the payload.
/// On error nothing is left appended to `out`.
pub(crate) fn encode_frame(
    out: &mut Vec<u8>,
    opcode: u8,
    request_id: u64,
    payload: impl FnOnce(&mut Writer<'_>) -> Result<()>,
) -> Result<()> {
    encode_frame_with(out, VERSION, opcode, 0, request_id, payload)
}

fn encode_frame_with(
    out: &mut Vec<u8>,
    version: u8,
    opcode: u8,
    flags: u16,
    request_id: u64,
    payload: impl FnOnce(&mut Writer<'_>) -> Result<()>,
) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
    out.push(version);
    out.push(opcode);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&request_id.to_le_bytes());
    let res = payload(&mut Writer {
        out: Some(&mut *out),
    })
    .and_then(|()| {
        let len = out.len() - start - LENGTH_PREFIX_LEN;
        u32::try_from(len).map_err(|_| ProtocolError::FrameTooLarge {
            len: len as u64 + LENGTH_PREFIX_LEN as u64,
            max: u32::MAX as usize,
        })
    });
    match res {
        Ok(len) => {
            out[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

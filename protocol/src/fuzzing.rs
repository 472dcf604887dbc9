//! The body of the `protocol_decode` fuzz target, kept in the crate so that `fuzz/`
//! (cargo-fuzz) and the plain test over the seed corpus (`tests/fuzz_corpus.rs`) run the
//! same code.
//!
//! Promise checked: whatever the bytes, decoding never panics; a frame re-encodes to the
//! bytes it came from; a request or response that decodes re-encodes, and the re-encoded
//! frame decodes to an equal value.

use crate::frame::decode_frame;
use crate::message::{Request, Response};
use crate::DEFAULT_MAX_FRAME;

/// Decodes arbitrary bytes as a stream of frames, each as a request and as a response,
/// and checks the round trips (panics only if the codec breaks its promises).
pub fn fuzz_decode(data: &[u8]) {
    // A small maximum too, so the size check is exercised.
    let _ = decode_frame(data, 64);
    let mut rest = data;
    while let Ok(Some((frame, used))) = decode_frame(rest, DEFAULT_MAX_FRAME) {
        assert!(used >= crate::HEADER_LEN && used <= rest.len());
        let mut raw = Vec::new();
        frame.encode(&mut raw).expect("a decoded frame re-encodes");
        assert_eq!(raw, rest[..used], "frame round trip");

        if let Ok(req) = Request::from_frame(&frame) {
            let mut out = Vec::new();
            req.encode(frame.request_id, &mut out)
                .expect("a decoded request re-encodes");
            let (f2, n) = decode_frame(&out, DEFAULT_MAX_FRAME)
                .expect("re-encoded request frame decodes")
                .expect("re-encoded request frame is whole");
            assert_eq!(n, out.len());
            assert_eq!(f2.request_id, frame.request_id);
            let again = Request::from_frame(&f2).expect("re-encoded request decodes");
            assert_eq!(again, req, "request round trip");
        }
        if let Ok(resp) = Response::from_frame(&frame) {
            let mut out = Vec::new();
            resp.encode(frame.request_id, &mut out)
                .expect("a decoded response re-encodes");
            let (f2, n) = decode_frame(&out, DEFAULT_MAX_FRAME)
                .expect("re-encoded response frame decodes")
                .expect("re-encoded response frame is whole");
            assert_eq!(n, out.len());
            let again = Response::from_frame(&f2).expect("re-encoded response decodes");
            assert_eq!(again, resp, "response round trip");
        }
        rest = &rest[used..];
    }
}

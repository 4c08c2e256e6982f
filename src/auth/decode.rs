//! Compressed bodies: refused unless a source opts in, and then inflated under a cap before the
//! signature is checked.
//!
//! By default a body with any `Content-Encoding` but `identity` is answered 415 before it is
//! read: hookgate verifies what the sender signed and does not inflate untrusted input. A sender
//! that compresses (to save bandwidth on large payloads) can be received by giving its source a
//! [`Decompress`] with a cap on the inflated size. Then:
//!
//! - `gzip` (and `x-gzip`) and `deflate` are accepted, one encoding per request: stacked
//!   encodings (`gzip, gzip`) and any other (`br`, `zstd`, `compress`) stay 415;
//! - the body is inflated after the wire-size cap of [`BodyLimit`](crate::limit::BodyLimit) and
//!   before verification, and inflating stops at the cap: a larger result is 413
//!   `decompressed_too_large`, so a small bomb cannot take memory;
//! - a body that is not valid in its encoding is 400 `malformed_encoding`;
//! - **the signature is checked on the inflated bytes**, the JSON document the sender serialized
//!   and signed. `Content-Encoding` is a transport coding (RFC 9110, section 8.4) that the sender's
//!   HTTP stack applies after signing, and the compressed bytes are not stable across compression
//!   levels or libraries, so signing them would tie the signature to one zlib build;
//! - the request continues without `Content-Encoding` and `Content-Length`, carrying the inflated
//!   bytes, so every later stage and forwarder sees plain JSON that still matches its signature.
//!
//! `deflate` means the zlib format (RFC 9110), but some senders send raw DEFLATE under that
//! name; both are accepted, as browsers do.

#[cfg(feature = "decompress")]
use std::io::Read;

use bytes::Bytes;
#[cfg(feature = "decompress")]
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::{HeaderMap, header};

use crate::rejection::Rejection;

/// Opt-in decompression of request bodies; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decompress {
    max_bytes: usize,
}

impl Decompress {
    /// Inflate `gzip` and `deflate` bodies to at most `max_bytes` (larger results are 413).
    pub fn up_to(max_bytes: usize) -> Self {
        Self { max_bytes }
    }

    /// The cap on an inflated body.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

/// The content coding of a request, as far as hookgate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// No `Content-Encoding`, or `identity`.
    Identity,
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate` (zlib, or raw DEFLATE).
    Deflate,
    /// Anything else, or more than one coding.
    Unsupported,
}

/// The coding named by `headers`' `Content-Encoding` fields (all of them, comma lists included).
pub(crate) fn coding(headers: &HeaderMap) -> Coding {
    let mut found = Coding::Identity;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        for name in value.as_bytes().split(|&b| b == b',') {
            let name = name.trim_ascii();
            let this = if name.is_empty() || name.eq_ignore_ascii_case(b"identity") {
                continue;
            } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
                Coding::Gzip
            } else if name.eq_ignore_ascii_case(b"deflate") {
                Coding::Deflate
            } else {
                return Coding::Unsupported;
            };
            if found != Coding::Identity {
                return Coding::Unsupported; // stacked codings
            }
            found = this;
        }
    }
    found
}

/// Inflate `wire` in `coding`, to at most `max_bytes`.
pub(crate) fn inflate(coding: Coding, wire: &[u8], max_bytes: usize) -> Result<Bytes, Rejection> {
    match coding {
        Coding::Identity => Ok(Bytes::copy_from_slice(wire)),
        #[cfg(feature = "decompress")]
        Coding::Gzip => read_capped(MultiGzDecoder::new(wire), max_bytes),
        #[cfg(feature = "decompress")]
        Coding::Deflate => match read_capped(ZlibDecoder::new(wire), max_bytes) {
            Err(Rejection::MalformedEncoding) => read_capped(DeflateDecoder::new(wire), max_bytes),
            other => other,
        },
        // Built without the `decompress` feature: a compressed body is a coding not supported.
        #[cfg(not(feature = "decompress"))]
        Coding::Gzip | Coding::Deflate => {
            let _ = max_bytes;
            Err(Rejection::UnsupportedEncoding)
        }
        Coding::Unsupported => Err(Rejection::UnsupportedEncoding),
    }
}

#[cfg(feature = "decompress")]
fn read_capped(reader: impl Read, max_bytes: usize) -> Result<Bytes, Rejection> {
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| Rejection::MalformedEncoding)?;
    if out.len() > max_bytes {
        return Err(Rejection::DecompressedTooLarge);
    }
    Ok(Bytes::from(out))
}

#[cfg(all(test, feature = "decompress"))]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::CONTENT_ENCODING, v.parse().unwrap());
        }
        headers
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn names_one_coding_and_refuses_stacks_and_strangers() {
        assert_eq!(coding(&headers(&[])), Coding::Identity);
        assert_eq!(coding(&headers(&["identity"])), Coding::Identity);
        assert_eq!(coding(&headers(&["GZip"])), Coding::Gzip);
        assert_eq!(coding(&headers(&["x-gzip"])), Coding::Gzip);
        assert_eq!(coding(&headers(&[" deflate "])), Coding::Deflate);
        assert_eq!(coding(&headers(&["identity, gzip"])), Coding::Gzip);
        assert_eq!(coding(&headers(&["gzip, gzip"])), Coding::Unsupported);
        assert_eq!(coding(&headers(&["gzip", "deflate"])), Coding::Unsupported);
        assert_eq!(coding(&headers(&["br"])), Coding::Unsupported);
        assert_eq!(coding(&headers(&["zstd"])), Coding::Unsupported);
    }

    #[test]
    fn inflates_gzip_zlib_and_raw_deflate() {
        let data = br#"{"event":"ticket.created"}"#;
        assert_eq!(inflate(Coding::Gzip, &gzip(data), 1024).unwrap(), &data[..]);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(data).unwrap();
        assert_eq!(
            inflate(Coding::Deflate, &z.finish().unwrap(), 1024).unwrap(),
            &data[..]
        );
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(data).unwrap();
        assert_eq!(
            inflate(Coding::Deflate, &d.finish().unwrap(), 1024).unwrap(),
            &data[..]
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        // 64 MiB of zeros compress to about 64 KiB; inflating stops one byte past the cap.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 128 << 10);
        assert_eq!(
            inflate(Coding::Gzip, &bomb, 1 << 20),
            Err(Rejection::DecompressedTooLarge)
        );
        // Exactly at the cap is fine.
        assert_eq!(
            inflate(Coding::Gzip, &gzip(&[7; 100]), 100).unwrap().len(),
            100
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            inflate(Coding::Gzip, b"not gzip at all", 1024),
            Err(Rejection::MalformedEncoding)
        );
        let mut truncated = gzip(b"{\"a\":1}");
        truncated.truncate(truncated.len() - 4);
        assert_eq!(
            inflate(Coding::Gzip, &truncated, 1024),
            Err(Rejection::MalformedEncoding)
        );
        assert_eq!(
            inflate(Coding::Deflate, &[0xff; 32], 1024),
            Err(Rejection::MalformedEncoding)
        );
    }
}

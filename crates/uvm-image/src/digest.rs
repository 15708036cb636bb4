//! The two hashes of an image: the XXH3-64 `checksum` (integrity, checked before every boot)
//! and the SHA-256 `digest` (content identity, checked by `uvm inspect`), and how to print a
//! digest.
//!
//! - checksum = XXH3-64 (seed 0) of the whole file with the 8 checksum bytes
//!   ([`CHECKSUM_OFFSET`]) zeroed. It covers the digest.
//! - digest = SHA-256 of the whole file with the checksum and the 32 digest bytes
//!   ([`DIGEST_OFFSET`]) zeroed.
//!
//! The writer therefore computes the digest first, stores it, then computes the checksum.

use std::ops::Range;

use sha2::{Digest, Sha256};
use uvm_abi::image::{CHECKSUM_OFFSET, DIGEST_OFFSET};
use xxhash_rust::xxh3::Xxh3;

/// Bytes of the checksum field.
pub(crate) const CHECKSUM_LEN: usize = 8;
/// Bytes of the digest field.
pub(crate) const DIGEST_LEN: usize = 32;

/// Formats a digest the way uvm prints it: `sha256:` and 64 lowercase hex digits.
pub fn digest_hex(d: &[u8; 32]) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in d {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes hashed between two calls of the `done` hook of [`checksum_releasing`].
pub(crate) const CHECKSUM_CHUNK: usize = 256 * 1024;

/// The checksum of a whole image held in `bytes`, computed as if the checksum field were zero
/// (streaming over the parts around it, so the bytes can be a read-only mapping), calling
/// `done` with each [`CHECKSUM_CHUNK`]-sized range of `bytes` once it is hashed (so a mapping
/// can give those pages back while the rest is read). `bytes` must be at least a header long
/// (the caller has parsed the header).
pub(crate) fn checksum_releasing(bytes: &[u8], done: &mut dyn FnMut(Range<usize>)) -> u64 {
    let mut hasher = Xxh3::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + CHECKSUM_CHUNK).min(bytes.len());
        let field = CHECKSUM_OFFSET..CHECKSUM_OFFSET + CHECKSUM_LEN;
        if start < field.end && field.start < end {
            hasher.update(&bytes[start..field.start]);
            hasher.update(&[0u8; CHECKSUM_LEN]);
            hasher.update(&bytes[field.end..end]);
        } else {
            hasher.update(&bytes[start..end]);
        }
        done(start..end);
        start = end;
    }
    hasher.digest()
}

/// The digest of a whole image held in `bytes` (at least a header long).
pub(crate) fn digest_of(bytes: &[u8]) -> [u8; 32] {
    // The checksum field is directly followed by the digest field: one run of zeroes.
    debug_assert_eq!(CHECKSUM_OFFSET + CHECKSUM_LEN, DIGEST_OFFSET);
    let mut sha = Sha256::new();
    sha.update(&bytes[..CHECKSUM_OFFSET]);
    sha.update([0u8; CHECKSUM_LEN + DIGEST_LEN]);
    sha.update(&bytes[DIGEST_OFFSET + DIGEST_LEN..]);
    sha.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum_of(bytes: &[u8]) -> u64 {
        checksum_releasing(bytes, &mut |_| {})
    }

    #[test]
    fn chunked_checksum_is_the_plain_one_and_reports_every_chunk() {
        let bytes: Vec<u8> = (0..CHECKSUM_CHUNK * 2 + 12345).map(|i| (i * 7 % 251) as u8).collect();
        let mut plain = Xxh3::new();
        plain.update(&bytes[..CHECKSUM_OFFSET]);
        plain.update(&[0u8; CHECKSUM_LEN]);
        plain.update(&bytes[CHECKSUM_OFFSET + CHECKSUM_LEN..]);
        let mut chunks = Vec::new();
        assert_eq!(checksum_releasing(&bytes, &mut |r| chunks.push(r)), plain.digest());
        assert_eq!(chunks, [0..CHECKSUM_CHUNK, CHECKSUM_CHUNK..2 * CHECKSUM_CHUNK, 2 * CHECKSUM_CHUNK..bytes.len()]);
    }

    #[test]
    fn hex_format() {
        let mut d = [0u8; 32];
        d[0] = 0xab;
        d[31] = 0x01;
        let s = digest_hex(&d);
        assert_eq!(s.len(), 7 + 64);
        assert!(s.starts_with("sha256:ab00"));
        assert!(s.ends_with("0001"));
    }

    #[test]
    fn the_digest_ignores_both_fields() {
        let a = vec![7u8; 4096];
        let mut b = a.clone();
        b[CHECKSUM_OFFSET] = 1;
        b[DIGEST_OFFSET + 5] = 9;
        assert_eq!(digest_of(&a), digest_of(&b));
        b[200] = 0;
        assert_ne!(digest_of(&a), digest_of(&b));
    }

    #[test]
    fn the_checksum_ignores_its_field_covers_the_digest_and_restores_the_field() {
        let a = vec![7u8; 4096];
        let mut b = a.clone();
        b[CHECKSUM_OFFSET] = 1;
        assert_eq!(checksum_of(&a), checksum_of(&b));
        assert_eq!(b[CHECKSUM_OFFSET], 1);
        b[DIGEST_OFFSET] = 1;
        assert_ne!(checksum_of(&a), checksum_of(&b));
    }
}

//! Modified UTF-7 (RFC 3501 §5.1.3), the wire form of mailbox names for
//! clients that have not enabled IMAP4rev2.
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself, except `&`, written
//! `&-`. Anything else is UTF-16 in big-endian order, in base64 with `,`
//! for `/` and no padding, between `&` and `-`.
//!
//! Every name has exactly one encoding, and `decode` accepts only that
//! one: a name a client creates comes back in LIST byte for byte as it
//! was sent, so the client finds its mailbox again. Hence the refusals
//! of forms plain UTF-7 tolerates (encoded ASCII, padding bits that are
//! not zero, two shifts in a row).
//!
//! The `utf7-imap` crate does the same job, but its decoder cannot fail
//! (it panics on bad base64 and lets every other invalid form through),
//! so it cannot tell a client its name is invalid.

use std::borrow::Cow;
use std::fmt;

/// Why a mailbox name from the client is not one the server can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameError {
    /// `&` without the `-` that ends the shift.
    Unterminated,
    /// A character outside modified base64 between `&` and `-`, or base64
    /// that stops inside a UTF-16 unit.
    BadBase64,
    /// Base64 standing for printable US-ASCII, which must represent
    /// itself.
    EncodedAscii,
    /// Not the one shortest form: padding bits set, or a shift right
    /// after another one.
    NonCanonical,
    /// A UTF-16 surrogate without its other half.
    UnpairedSurrogate,
    /// A byte above 0x7f in a name meant to be modified UTF-7.
    EightBit,
    /// 8-bit bytes that are not UTF-8.
    NotUtf8,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Unterminated => "modified UTF-7 shift not terminated by '-'",
            NameError::BadBase64 => "invalid modified base64 in modified UTF-7",
            NameError::EncodedAscii => "printable US-ASCII encoded in modified UTF-7",
            NameError::NonCanonical => "non-canonical modified UTF-7",
            NameError::UnpairedSurrogate => "unpaired UTF-16 surrogate in modified UTF-7",
            NameError::EightBit => "8-bit character in modified UTF-7",
            NameError::NotUtf8 => "mailbox name is not UTF-8",
        })
    }
}

/// Modified base64: RFC 4648 base64 with `,` in place of `/`.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

fn is_printable(c: char) -> bool {
    ('\u{20}'..='\u{7e}').contains(&c)
}

/// A UTF-8 name in modified UTF-7; borrowed when it needs no change.
pub(crate) fn encode(name: &str) -> Cow<'_, str> {
    if name.chars().all(|c| is_printable(c) && c != '&') {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() * 2);
    let mut units: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_printable(c) {
            flush_shift(&mut out, &mut units);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            units.extend_from_slice(c.encode_utf16(&mut [0; 2]));
        }
    }
    flush_shift(&mut out, &mut units);
    Cow::Owned(out)
}

/// Writes the pending UTF-16 units as one `&...-` shift.
fn flush_shift(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut n_bits = 0;
    for unit in units.drain(..) {
        bits = (bits << 16) | u32::from(unit);
        n_bits += 16;
        while n_bits >= 6 {
            n_bits -= 6;
            out.push(char::from(ALPHABET[((bits >> n_bits) & 0x3f) as usize]));
        }
        bits &= (1 << n_bits) - 1;
    }
    if n_bits > 0 {
        // The last sextet, padded with zero bits.
        out.push(char::from(ALPHABET[((bits << (6 - n_bits)) & 0x3f) as usize]));
    }
    out.push('-');
}

/// A modified UTF-7 name in UTF-8, or why it is not valid modified
/// UTF-7 in its one canonical form.
pub(crate) fn decode(encoded: &[u8]) -> Result<String, NameError> {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    // Whether the last thing read was a non-empty shift: another one
    // right after it should have been part of it.
    let mut after_shift = false;
    while let [first, tail @ ..] = rest {
        rest = tail;
        match *first {
            b'&' => {
                let end = rest.iter().position(|b| *b == b'-').ok_or(NameError::Unterminated)?;
                let (base64, tail) = (&rest[..end], &rest[end + 1..]);
                rest = tail;
                if base64.is_empty() {
                    out.push('&');
                    after_shift = false;
                    continue;
                }
                if after_shift {
                    return Err(NameError::NonCanonical);
                }
                decode_shift(base64, &mut out)?;
                after_shift = true;
            }
            c if c.is_ascii() => {
                out.push(char::from(c));
                after_shift = false;
            }
            _ => return Err(NameError::EightBit),
        }
    }
    Ok(out)
}

/// The characters between `&` and `-`.
fn decode_shift(base64: &[u8], out: &mut String) -> Result<(), NameError> {
    let mut units = Vec::with_capacity(base64.len() * 6 / 16);
    let mut bits: u32 = 0;
    let mut n_bits = 0;
    for c in base64 {
        let Some(value) = sextet(*c) else {
            // Most likely a `&` inside a shift, or a shift whose `-` the
            // client forgot before more plain text.
            return Err(if c.is_ascii() { NameError::BadBase64 } else { NameError::EightBit });
        };
        bits = (bits << 6) | value;
        n_bits += 6;
        if n_bits >= 16 {
            n_bits -= 16;
            units.push(((bits >> n_bits) & 0xffff) as u16);
            bits &= (1 << n_bits) - 1;
        }
    }
    // Whole UTF-16 units leave fewer than 6 bits over, all zero.
    if n_bits >= 6 {
        return Err(NameError::BadBase64);
    }
    if bits != 0 {
        return Err(NameError::NonCanonical);
    }
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| NameError::UnpairedSurrogate)?;
        if is_printable(c) {
            return Err(NameError::EncodedAscii);
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

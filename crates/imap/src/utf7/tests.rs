//! Modified UTF-7: known encodings, every invalid form, and round trips.

use super::{NameError, decode, encode};

/// `name` encodes to `wire`, and `wire` decodes back to `name`.
fn check(name: &str, wire: &str) {
    assert_eq!(encode(name), wire, "encode {name:?}");
    assert_eq!(decode(wire.as_bytes()), Ok(name.to_owned()), "decode {wire:?}");
}

fn refused(wire: &[u8], error: NameError) {
    assert_eq!(decode(wire), Err(error), "{:?}", String::from_utf8_lossy(wire));
}

#[test]
fn known_encodings() {
    check("", "");
    check("INBOX", "INBOX");
    check("Lists/Rust-lang +x ~y", "Lists/Rust-lang +x ~y");
    check("&", "&-");
    check("Tom & Jerry", "Tom &- Jerry");
    check("&&", "&-&-");
    check("Répertoire", "R&AOk-pertoire");
    check("théâtre", "th&AOkA4g-tre");
    check("Šiukšliadėžė", "&AWA-iuk&AWE-liad&ARcBfgEX-");
    check("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
    // RFC 3501 §5.1.3's example.
    check("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    // A shift ends at the first '-'; a '-' after it is plain text.
    check("é-", "&AOk--");
    check("é&", "&AOk-&-");
    check("&é", "&-&AOk-");
}

#[test]
fn non_bmp_characters_are_surrogate_pairs() {
    // U+1F600 is D83D DE00 in UTF-16.
    check("😀", "&2D3eAA-");
    check("a😀b", "a&2D3eAA-b");
    check("é😀", "&AOnYPd4A-");
    check("𝄞/😀", "&2DTdHg-/&2D3eAA-");
}

#[test]
fn controls_and_del_are_encoded() {
    check("\t", "&AAk-");
    check("a\u{7f}", "a&AH8-");
    check("\u{0}é", "&AAAA6Q-");
}

#[test]
fn invalid_forms_are_refused() {
    refused(b"&", NameError::Unterminated);
    refused(b"&AOk", NameError::Unterminated);
    refused(b"Caf&AOk", NameError::Unterminated);
    refused(b"&AO.k-", NameError::BadBase64);
    refused(b"&AOk&-", NameError::BadBase64);
    // Plain base64's '/' is not modified base64's ','.
    refused(b"&BB4EQgQ/BEAEMAQyBDsENQQ9BD0ESwQ1-", NameError::BadBase64);
    // Base64 that stops inside a UTF-16 unit.
    refused(b"&A-", NameError::BadBase64);
    refused(b"&AO-", NameError::BadBase64);
    refused(b"&AOkA-", NameError::BadBase64);
    // Printable ASCII must stand for itself, '&' included.
    refused(b"&AGE-", NameError::EncodedAscii);
    refused(b"&ACY-", NameError::EncodedAscii);
    refused(b"&ACA-", NameError::EncodedAscii);
    refused(b"&AOkAYQ-", NameError::EncodedAscii);
    // Padding bits set; two shifts where one would do.
    refused(b"&AOl-", NameError::NonCanonical);
    refused(b"&AOk-&AOk-", NameError::NonCanonical);
    refused(b"&AOk-&2D3eAA-", NameError::NonCanonical);
    // Half a surrogate pair, either half.
    refused(b"&2D0-", NameError::UnpairedSurrogate);
    refused(b"&3gA-", NameError::UnpairedSurrogate);
    refused(b"&3gDYPQ-", NameError::UnpairedSurrogate);
    // A pair split across two shifts: the first is already unpaired.
    refused(b"&2D0-&3gA-", NameError::UnpairedSurrogate);
    // Raw 8-bit bytes are not modified UTF-7, in a shift or out of one.
    refused("Café".as_bytes(), NameError::EightBit);
    refused(b"&AO\xe9-", NameError::EightBit);
}

#[test]
fn errors_name_the_problem() {
    assert_eq!(NameError::Unterminated.to_string(), "modified UTF-7 shift not terminated by '-'");
    assert_eq!(NameError::EncodedAscii.to_string(), "printable US-ASCII encoded in modified UTF-7");
}

/// A small linear congruential generator: the same cases every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % n
    }
}

#[test]
fn every_name_round_trips() {
    let alphabet = ['a', 'Z', '&', '-', '/', ' ', '+', ',', '\t', '\u{7f}', 'é', 'ß', '台', '\u{ffff}', '😀', '𝄞'];
    let mut random = Lcg(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let length = random.below(12);
        let name: String = (0..length).map(|_| alphabet[random.below(alphabet.len())]).collect();
        let wire = encode(&name);
        assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name:?} -> {wire:?}");
        assert_eq!(decode(wire.as_bytes()), Ok(name.clone()), "{name:?} -> {wire:?}");
    }
}

#[test]
fn every_valid_wire_form_is_the_canonical_one() {
    // Whatever decodes must encode back to the same bytes, so a name
    // created by a client is listed exactly as the client sent it.
    let pieces: [&[u8]; 14] =
        [b"&", b"-", b"a", b"A", b"O", b"k", b"2D3eAA", b"AOk", b"3gA", b",", b"+", b"/", b"&-", b"&AOk-"];
    let mut random = Lcg(0x9e37_79b9_7f4a_7c15);
    for _ in 0..50_000 {
        let mut wire = Vec::new();
        for _ in 0..random.below(8) {
            wire.extend_from_slice(pieces[random.below(pieces.len())]);
        }
        if let Ok(name) = decode(&wire) {
            assert_eq!(encode(&name).as_bytes(), wire.as_slice(), "{:?}", String::from_utf8_lossy(&wire));
        }
    }
}

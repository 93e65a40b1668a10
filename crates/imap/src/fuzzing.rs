//! Entry points for the fuzz targets in `fuzz/`; not an API.

use crate::frame::{Frame, FrameLimits, Framer, tag_of};
use bytes::BytesMut;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;

/// Feeds `data` to the command path as a client would, in reads of
/// `read_size` bytes: the framer splits it into commands (answering
/// literals), and each command goes through imap-codec's decoder. It
/// must never panic and must never buffer more than the limits allow.
pub fn command(data: &[u8], read_size: usize) {
    let limits = FrameLimits { max_line: 4096, max_literal: 8192 };
    let mut framer = Framer::default();
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for read in data.chunks(read_size.max(1)) {
        input.extend_from_slice(read);
        loop {
            match framer.next(&mut input, &mut out, limits) {
                Frame::NeedMore => break,
                Frame::Command(bytes) => {
                    let _ = tag_of(&bytes);
                    let _ = CommandCodec::default().decode(&bytes);
                }
                Frame::LineTooLong { tag } | Frame::LiteralTooLarge { tag, .. } => {
                    assert!(!tag.contains('\n'));
                }
            }
        }
        assert!(input.len() <= limits.max_line);
        out.clear();
    }
}

/// Parses `data` as a stored message and writes everything FETCH derives
/// from its MIME structure: ENVELOPE, BODY, BODYSTRUCTURE and the byte
/// ranges of the first parts at each level. It must never panic.
pub fn message(data: &[u8]) {
    let root = crate::mime::parse(data);
    // What we write must parse as a FETCH response by the IMAP grammar.
    let mut out = b"* 1 FETCH (ENVELOPE ".to_vec();
    crate::mime::write_envelope(&mut out, data, &root);
    out.extend_from_slice(b" BODYSTRUCTURE ");
    crate::mime::write_body(&mut out, data, &root, true);
    out.extend_from_slice(b" BODY ");
    crate::mime::write_body(&mut out, data, &root, false);
    out.extend_from_slice(b")\r\n");
    let decoded = imap_codec::ResponseCodec::default().decode(&out);
    assert!(matches!(decoded, Ok((rest, _)) if rest.is_empty()), "{:?}", String::from_utf8_lossy(&out));
    let one = std::num::NonZeroU32::MIN;
    let two = one.saturating_add(1);
    for path in [&[one][..], &[two], &[one, one], &[two, one], &[two, two, one], &[one, two, two, one]] {
        if let Some(part) = root.find(path) {
            let _ = (&data[part.header.clone()], &data[part.body.clone()]);
        }
        if let Some(message) = root.message(path) {
            let _ = (&data[message.header.clone()], &data[message.body.clone()]);
        }
    }
}

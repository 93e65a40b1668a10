//! Feeds arbitrary bytes, in arbitrary reads, to the decoder: it must never
//! panic, must always make progress, and must never keep more than one
//! line's worth of input buffered.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pop3_codec::{Decoder, MAX_LINE};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut into reads.
    let Some((&cut, data)) = data.split_first() else { return };
    let read_size = usize::from(cut).max(1) * 8;
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    for (i, read) in data.chunks(read_size).enumerate() {
        buf.extend_from_slice(read);
        loop {
            // Alternate between commands and SASL response lines, as a
            // session in the middle of AUTH does.
            let more = if i % 2 == 0 {
                decoder.decode(&mut buf).transpose().is_some()
            } else {
                decoder.decode_line(&mut buf).transpose().is_some()
            };
            if !more {
                break;
            }
        }
        assert!(buf.len() < MAX_LINE);
    }
});

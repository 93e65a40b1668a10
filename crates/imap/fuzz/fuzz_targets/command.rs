//! Feeds arbitrary bytes, in arbitrary reads, through the IMAP command
//! path (framer, then imap-codec's command decoder): it must never panic
//! and never buffer more than a line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut into reads.
    let Some((&cut, data)) = data.split_first() else { return };
    imap::fuzzing::command(data, usize::from(cut).max(1) * 4);
});

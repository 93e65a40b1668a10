//! Feeds arbitrary bytes as a stored message to the MIME structure code
//! behind ENVELOPE, BODYSTRUCTURE and part sections: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imap::fuzzing::message(data));

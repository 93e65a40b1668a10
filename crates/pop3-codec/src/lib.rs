//! POP3 wire format: bytes to commands and replies to bytes, no I/O

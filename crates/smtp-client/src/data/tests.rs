use super::*;

fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stuffer = DotStuffer::new();
    stuffer.encode(input, &mut out);
    stuffer.finish(&mut out);
    out
}

fn check(input: &str, expected: &str) {
    assert_eq!(String::from_utf8_lossy(&encode(input.as_bytes())), expected, "input {input:?}");
    // Cut anywhere, the encoding is the same.
    for cut in 0..=input.len() {
        let mut out = Vec::new();
        let mut stuffer = DotStuffer::new();
        stuffer.encode(&input.as_bytes()[..cut], &mut out);
        stuffer.encode(&input.as_bytes()[cut..], &mut out);
        stuffer.finish(&mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected, "input {input:?} cut at {cut}");
    }
}

#[test]
fn dot_stuffing_and_line_endings() {
    check("", ".\r\n");
    check("a\r\n", "a\r\n.\r\n");
    check("a", "a\r\n.\r\n");
    check(".\r\n", "..\r\n.\r\n");
    check(".a\r\n.b", "..a\r\n..b\r\n.\r\n");
    check("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n");
    check("a.b\r\n", "a.b\r\n.\r\n");
    // Bare LF and bare CR become CRLF, so no lone `.` line can hide.
    check("a\nb\n", "a\r\nb\r\n.\r\n");
    check("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n");
    check("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n");
    check("a\r\r\nb", "a\r\n\r\nb\r\n.\r\n");
    check("a\n\r\n", "a\r\n\r\n.\r\n");
    check("\n\n", "\r\n\r\n.\r\n");
    check("\r", "\r\n.\r\n");
    check("..\r\n", "...\r\n.\r\n");
}

#[test]
fn sizes_count_crlf_but_not_stuffing() {
    assert_eq!(message_size(b""), 0);
    assert_eq!(message_size(b"a\r\n"), 3);
    assert_eq!(message_size(b"a\n"), 3);
    assert_eq!(message_size(b"a"), 3);
    assert_eq!(message_size(b".a\r\n"), 4);
    let big = b"line\n".repeat(30_000);
    assert_eq!(message_size(&big), 6 * 30_000);
}

#[test]
fn eight_bit() {
    assert!(!has_8bit(b"plain\r\n"));
    assert!(has_8bit("caf\u{e9}".as_bytes()));
}

use super::Message;

/// Undoes dot-stuffing and strips the end-of-data line, as a server does.
fn unstuff(data: &[u8]) -> Vec<u8> {
    let body = data.strip_suffix(b".\r\n").expect("ends with the end-of-data line");
    let mut out = Vec::new();
    for line in body.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

fn check(size: usize) {
    let message = Message::new(size).unwrap();
    let mut data = Vec::new();
    message.append_data(&mut data, 0xabc);
    let stored = unstuff(&data);
    let mut text = Vec::new();
    message.append_text(&mut text, 0xabc);
    assert_eq!(text, stored, "the APPEND literal is the stored message");
    assert_eq!(message.size(), size);
    assert_eq!(stored.len(), size, "size {size}");
    assert!(stored.ends_with(b"\r\n"));
    for line in stored.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "bare LF in {line:?}");
        assert!(line.len() <= 1000, "line of {} octets", line.len());
        assert!(!line[..line.len() - 2].contains(&b'\r'));
    }
    assert!(std::str::from_utf8(&stored).unwrap().contains("Message-ID: <0000000000000abc@bench.example>\r\n"));
}

#[test]
fn sizes_are_exact_and_lines_valid() {
    for size in [400, 401, 402, 475, 476, 477, 1000, 4096, 10 * 1024, 10 * 1024 + 1, 100_000] {
        check(size);
    }
}

#[test]
fn dot_lines_are_stuffed() {
    let message = Message::new(10 * 1024).unwrap();
    let mut data = Vec::new();
    message.append_data(&mut data, 1);
    let text = String::from_utf8(data).unwrap();
    assert!(text.contains("\r\n.."));
    assert!(!text[..text.len() - 3].contains("\r\n.\r\n"));
}

#[test]
fn serials_differ_and_buffers_append() {
    let message = Message::new(1000).unwrap();
    let mut data = b"prefix".to_vec();
    message.append_data(&mut data, u64::MAX);
    assert!(data.starts_with(b"prefix"));
    assert!(String::from_utf8_lossy(&data).contains("<ffffffffffffffff@bench.example>"));
}

#[test]
fn too_small_is_refused() {
    assert!(Message::new(10).is_err());
}

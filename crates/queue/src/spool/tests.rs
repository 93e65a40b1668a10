use super::*;
use crate::QueueId;
use crate::record::{Record, encode_removed};

#[test]
fn segment_names() {
    let cases = [
        ("seg-000001.q", Some(1)),
        ("seg-1234567.q", Some(1_234_567)),
        ("seg-.q", None),
        ("seg-00a001.q", None),
        ("seg-000001.q.tmp", None),
        ("other", None),
    ];
    for (name, expected) in cases {
        assert_eq!(parse_segment_name(name), expected, "{name}");
    }
    assert_eq!(segment_path(Path::new("/q"), 12), Path::new("/q/seg-000012.q"));
}

#[test]
fn headers() {
    let header = encode_header(77);
    assert_eq!(decode_header(&header), Some(77));
    for position in 0..20 {
        let mut damaged = header;
        damaged[position] ^= 0x10;
        assert_eq!(decode_header(&damaged), None, "flip at {position}");
    }
    assert_eq!(decode_header(&header[..10]), None);
}

/// A segment with `n` Removed frames; returns the file and frame offsets.
fn segment_with_frames(dir: &Path, n: u64) -> (File, Vec<u64>) {
    let file = create_segment(dir, 1, 1, false).unwrap();
    let mut offset = SEGMENT_HEADER_LEN;
    let mut offsets = Vec::new();
    for id in 0..n {
        let frame = encode_removed(QueueId(id));
        file.write_all_at(&frame, offset).unwrap();
        offsets.push(offset);
        offset += frame.len() as u64;
    }
    (file, offsets)
}

fn scan_ids(file: &File, len: u64) -> (Vec<u64>, ScanEnd) {
    let mut ids = Vec::new();
    let end = scan(file, len, |_, _, payload| {
        ids.push(record::decode(payload)?.id().0);
        Ok(())
    })
    .unwrap();
    (ids, end)
}

#[test]
fn scan_reads_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (file, offsets) = segment_with_frames(dir.path(), 5);
    let len = file.metadata().unwrap().len();
    let (ids, end) = scan_ids(&file, len);
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    assert_eq!(end, ScanEnd { valid_len: len, damage: None });
    let payload = read_frame(&file, offsets[2], offsets[3] - offsets[2]).unwrap();
    assert_eq!(record::decode(&payload).unwrap(), Record::Removed { id: QueueId(2) });
}

#[test]
fn scan_stops_at_a_torn_frame_at_any_length() {
    let dir = tempfile::tempdir().unwrap();
    let (file, offsets) = segment_with_frames(dir.path(), 3);
    let len = file.metadata().unwrap().len();
    for cut in offsets[2]..len {
        let (ids, end) = scan_ids(&file, cut);
        assert_eq!(ids, vec![0, 1], "cut at {cut}");
        assert_eq!(end.valid_len, offsets[2]);
        assert_eq!(end.damage.is_some(), cut > offsets[2], "cut at {cut}");
    }
}

#[test]
fn scan_stops_at_zeros_and_flipped_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (file, offsets) = segment_with_frames(dir.path(), 3);
    let len = file.metadata().unwrap().len();
    file.write_all_at(&[0; 64], len).unwrap();
    let (ids, end) = scan_ids(&file, len + 64);
    assert_eq!((ids.len(), end.valid_len), (3, len));
    assert!(end.damage.is_some());
    for position in offsets[1]..offsets[2] {
        let mut byte = [0];
        file.read_exact_at(&mut byte, position).unwrap();
        file.write_all_at(&[byte[0] ^ 1], position).unwrap();
        let (ids, end) = scan_ids(&file, len);
        assert_eq!((ids, end.valid_len), (vec![0], offsets[1]), "flip at {position}");
        assert!(matches!(read_frame(&file, offsets[1], offsets[2] - offsets[1]), Err(ReadError::Damaged(_))));
        file.write_all_at(&byte, position).unwrap();
    }
}

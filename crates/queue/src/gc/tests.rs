use super::*;
use crate::Envelope;
use crate::index::Entry;
use std::fs::File;
use std::sync::Arc;

/// A segment's size and the frame lengths of its live messages.
type SegmentSpec<'a> = (u64, &'a [u64]);

/// An index with these segments; the last is active.
fn index(segments: &[SegmentSpec]) -> (Index, u64) {
    let file = Arc::new(File::open("/dev/null").unwrap());
    let mut index = Index::default();
    let mut id = 0;
    for (number, (size, live)) in segments.iter().enumerate() {
        let number = number as u64 + 1;
        index.add_segment(number, file.clone(), *size);
        for len in *live {
            id += 1;
            let envelope = Envelope {
                mail_from: String::new(),
                recipients: vec![],
                received_at: 0,
                authenticated_as: None,
                smtputf8: false,
            };
            let location = Location { segment: number, offset: 0, len: *len };
            index.insert(QueueId(id), Entry { envelope, queued_at_ms: 0, states: vec![], body_len: 0, location });
        }
    }
    (index, segments.len() as u64)
}

#[test]
fn plans() {
    let cases: &[(&[SegmentSpec], Step)] = &[
        (&[(100, &[])], Step::Idle),
        (&[(100, &[]), (100, &[])], Step::Delete(1)),
        (&[(100, &[10]), (100, &[])], Step::Compact(1)),
        (&[(100, &[60]), (100, &[])], Step::Idle),
        (&[(100, &[60]), (100, &[90]), (100, &[])], Step::Idle),
        // Drained segments stuck behind a mostly live one make it worth it.
        (&[(100, &[60]), (100, &[]), (100, &[]), (100, &[])], Step::Compact(1)),
        (&[(100, &[60]), (100, &[5]), (100, &[5]), (100, &[])], Step::Compact(1)),
        (&[(100, &[100]), (100, &[100]), (100, &[100])], Step::Idle),
    ];
    for (segments, expected) in cases {
        let (index, active) = index(segments);
        assert_eq!(&plan(&index, active), expected, "{segments:?}");
    }
}

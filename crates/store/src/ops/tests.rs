use super::*;
use crate::Flag;

fn check(txn: Vec<Op>) {
    let mut bytes = Vec::new();
    encode_txn(&txn, &mut bytes);
    assert_eq!(decode_txn(&bytes).unwrap(), txn);
    // Every shorter prefix is refused, never a panic or a partial result.
    for len in 0..bytes.len() {
        assert!(decode_txn(&bytes[..len]).is_err(), "prefix of {len} bytes accepted");
    }
}

#[test]
fn every_op_round_trips() {
    let loc = BlobLoc { segment: 3, offset: 1 << 40, len: 10_240, crc: 0xdead_beef };
    let flags = FlagSet::from_flags(&[Flag::Seen, Flag::Keyword("$Junk".into()), Flag::Deleted]);
    check(vec![]);
    check(vec![Op::CreateMailbox { id: 7, name: "Ünï/x".into(), uid_validity: 1_700_000_000 }]);
    check(vec![Op::RenameMailbox { id: 7, name: "y".into() }, Op::DeleteMailbox { id: 8 }]);
    check(vec![Op::Subscribe { name: "INBOX".into(), subscribed: true }]);
    check(vec![Op::Append {
        mailbox: 1,
        uid: 42,
        modseq: 99,
        blob: 5,
        new_blob: Some(loc),
        flags: flags.clone(),
        internal_date: -5,
        delivery: Some(u128::MAX),
    }]);
    check(vec![Op::Append {
        mailbox: 1,
        uid: 43,
        modseq: 100,
        blob: 5,
        new_blob: None,
        flags: FlagSet::default(),
        internal_date: 0,
        delivery: None,
    }]);
    check(vec![Op::SetFlags { mailbox: 2, modseq: 4, op: FlagOp::Remove, flags, uids: vec![1, 2, 3] }]);
    check(vec![
        Op::Copy { from: 1, to: 2, modseq: 6, pairs: vec![(1, 10), (4, 11)] },
        Op::Expunge { mailbox: 1, modseq: 7, uids: vec![1, 4] },
    ]);
    check(vec![Op::Relocate { blob: 5, loc }]);
}

#[test]
fn unknown_tags_and_huge_lengths_are_corrupt() {
    assert!(decode_txn(&[1, 0, 0, 0, 200]).is_err());
    assert!(decode_txn(&[0xff, 0xff, 0xff, 0xff]).is_err());
    let mut bytes = Vec::new();
    encode_txn(&[Op::Expunge { mailbox: 1, modseq: 2, uids: vec![] }], &mut bytes);
    let at = bytes.len() - 4;
    bytes[at..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_txn(&bytes).is_err());
}

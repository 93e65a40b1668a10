use super::{append_uid, literal_size};

#[test]
fn literal_sizes() {
    let check = |line: &str, expected: Option<usize>| assert_eq!(literal_size(line), expected, "{line:?}");
    check("* 1 FETCH (BODY[] {10240}", Some(10240));
    check("* 1 FETCH (BODY[] {12+}", Some(12));
    check("* 1 FETCH (BODY[] {0}", Some(0));
    check("* 1 FETCH (FLAGS (\\Seen))", None);
    check("* OK {x}", None);
    check("A1 OK done", None);
}

#[test]
fn append_uids() {
    let check = |tagged: &str, expected: Option<u32>| assert_eq!(append_uid(tagged), expected, "{tagged:?}");
    check("OK [APPENDUID 1700000000 207] APPEND completed", Some(207));
    check("OK [APPENDUID 3 9]", Some(9));
    check("OK APPEND completed", None);
}

use super::{parse_kib, tree, usage, with_argument};

#[test]
fn kib_fields() {
    let status = "Name:\trookery\nVmRSS:\t   12345 kB\nRssAnon:\t  100 kB\n";
    let check = |key: &str, expected: Option<u64>| assert_eq!(parse_kib(status, key), expected, "{key}");
    check("VmRSS:", Some(12345));
    check("RssAnon:", Some(100));
    check("Pss:", None);
}

#[test]
fn own_process_is_found_and_measured() {
    let me = std::process::id();
    assert!(tree(me).unwrap().contains(&me));
    let argument = std::env::args().next().unwrap();
    assert!(with_argument(&argument).unwrap().contains(&me));
    let mine = usage(&[me]);
    assert_eq!(mine.processes, 1);
    assert!(mine.rss_kib > 0 && mine.pss_kib > 0, "{mine:?}");
}

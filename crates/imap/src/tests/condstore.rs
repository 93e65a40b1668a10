//! CONDSTORE and QRESYNC (RFC 7162): MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE,
//! HIGHESTMODSEQ, VANISHED, SELECT (QRESYNC ...).

use super::{Harness, MESSAGE};

/// The number after `key (` or `key ` in the first line containing `marker`.
fn number_after(reply: &str, marker: &str, key: &str) -> u64 {
    let line = reply.lines().find(|l| l.contains(marker)).unwrap_or_else(|| panic!("no {marker} in {reply}"));
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("no {key} in {line}")) + key.len()..];
    let digits: String = rest.trim_start_matches([' ', '(']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

async fn harness_with(messages: usize) -> Harness {
    let harness = Harness::new().await;
    for _ in 0..messages {
        harness.deliver(MESSAGE).await;
    }
    harness
}

#[tokio::test]
async fn select_condstore_reports_highestmodseq_and_fetch_modseq() {
    let harness = harness_with(3).await;
    let mut client = harness.logged_in().await;
    let plain = client.ok("s1 SELECT INBOX").await;
    assert!(!plain.contains("HIGHESTMODSEQ"), "only once CONDSTORE is on: {plain}");
    let reply = client.ok("s2 SELECT INBOX (CONDSTORE)").await;
    assert!(reply.starts_with("* OK [CLOSED]"), "{reply}");
    let highest = number_after(&reply, "HIGHESTMODSEQ", "HIGHESTMODSEQ");
    let fetched = client.ok("f FETCH 1:* (MODSEQ)").await;
    assert_eq!(fetched.matches("MODSEQ (").count(), 3, "{fetched}");
    assert_eq!(number_after(&fetched, "* 3 FETCH", "MODSEQ"), highest);

    let stored = client.ok("t STORE 2 +FLAGS (\\Flagged)").await;
    let modseq = number_after(&stored, "* 2 FETCH", "MODSEQ");
    assert!(modseq > highest, "{stored}");
    assert!(stored.contains("FLAGS (\\Flagged)"), "{stored}");

    let changed = client.ok(&format!("c FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).await;
    assert!(changed.contains(&format!("* 2 FETCH (FLAGS (\\Flagged) MODSEQ ({modseq}))")), "{changed}");
    assert_eq!(changed.matches("FETCH (").count(), 1, "{changed}");
    let status = client.ok("st STATUS INBOX (HIGHESTMODSEQ MESSAGES)").await;
    assert!(status.contains(&format!("HIGHESTMODSEQ {modseq}")), "{status}");
}

#[tokio::test]
async fn unchangedsince_refuses_messages_modified_since() {
    let harness = harness_with(3).await;
    let mut client = harness.selected().await;
    let fetched = client.ok("f FETCH 1 (MODSEQ)").await;
    let base = number_after(&fetched, "* 1 FETCH", "MODSEQ");
    let before_2 = client.ok("f FETCH 2 (MODSEQ)").await;
    let base_2 = number_after(&before_2, "* 2 FETCH", "MODSEQ");
    client.ok("t STORE 2 +FLAGS.SILENT (\\Answered)").await;

    let reply = client.ok(&format!("u STORE 1:2 (UNCHANGEDSINCE {base_2}) +FLAGS (\\Seen)")).await;
    assert!(reply.contains("u OK [MODIFIED 2]"), "{reply}");
    assert!(reply.contains("* 1 FETCH (FLAGS (\\Seen) MODSEQ ("), "{reply}");
    assert!(!reply.contains("* 2 FETCH"), "{reply}");
    assert!(base <= base_2);

    // .SILENT still reports the new modseq under CONDSTORE.
    let silent = client.ok("v UID STORE 3 (UNCHANGEDSINCE 99999) +FLAGS.SILENT (\\Flagged)").await;
    assert!(silent.contains("* 3 FETCH (UID 3 MODSEQ ("), "{silent}");
    assert!(!silent.contains("FLAGS"), "{silent}");

    // A modseq of 0 always fails; UID STORE names UIDs.
    let zero = client.ok("w UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS (\\Seen)").await;
    assert!(zero.contains("w OK [MODIFIED 1:3]"), "{zero}");
    let flags = client.ok("x FETCH 1 (FLAGS)").await;
    assert!(flags.contains("\\Seen"), "nothing changed: {flags}");
}

#[tokio::test]
async fn qresync_select_reports_what_vanished_and_changed() {
    let harness = harness_with(4).await;
    let mut first = harness.logged_in().await;
    let select = first.expect("s SELECT INBOX (QRESYNC (1 1))", "BAD").await;
    assert!(select.contains("QRESYNC"), "{select}");
    let enabled = first.ok("e ENABLE QRESYNC").await;
    assert!(enabled.contains("* ENABLED QRESYNC CONDSTORE"), "{enabled}");
    let reply = first.ok("s SELECT INBOX").await;
    let validity = number_after(&reply, "UIDVALIDITY", "UIDVALIDITY");
    let modseq = number_after(&reply, "HIGHESTMODSEQ", "HIGHESTMODSEQ");
    first.ok("u UNSELECT").await;

    let mut other = harness.selected().await;
    other.ok("a STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.ok("b EXPUNGE").await;
    other.ok("c UID STORE 3 +FLAGS.SILENT (\\Flagged)").await;

    let resync = first.ok(&format!("r SELECT INBOX (QRESYNC ({validity} {modseq}))")).await;
    assert!(resync.contains("* VANISHED (EARLIER) 2\r\n"), "{resync}");
    assert!(resync.contains("* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ ("), "{resync}");
    assert_eq!(resync.matches("FETCH").count(), 1, "{resync}");

    // Known UIDs limit VANISHED to what the client has.
    let known = first.ok(&format!("k SELECT INBOX (QRESYNC ({validity} {modseq} 3:4))")).await;
    assert!(!known.contains("VANISHED"), "{known}");
    assert!(known.starts_with("* OK [CLOSED]"), "{known}");

    // Another UIDVALIDITY: the client must start over; nothing extra.
    let stale = first.ok(&format!("z SELECT INBOX (QRESYNC ({} {modseq}))", validity + 1)).await;
    assert!(!stale.contains("VANISHED") && !stale.contains("FETCH"), "{stale}");
}

#[tokio::test]
async fn qresync_reports_expunges_as_vanished() {
    let harness = harness_with(4).await;
    let mut first = harness.logged_in().await;
    first.ok("e ENABLE QRESYNC").await;
    let reply = first.ok("s SELECT INBOX").await;
    let modseq = number_after(&reply, "HIGHESTMODSEQ", "HIGHESTMODSEQ");

    first.ok("a STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let own = first.ok("b EXPUNGE").await;
    assert!(own.contains("* VANISHED 1\r\n") && !own.contains("EXPUNGE\r\n"), "{own}");

    let mut other = harness.selected().await;
    other.ok("c STORE 1:2 +FLAGS.SILENT (\\Deleted)").await;
    other.ok("d EXPUNGE").await;
    let seen = first.ok("n NOOP").await;
    assert!(seen.contains("* VANISHED 2:3\r\n"), "{seen}");

    let changed = first.ok(&format!("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")).await;
    assert!(changed.contains("* VANISHED (EARLIER) 1:3\r\n"), "{changed}");
    assert!(!changed.contains("FETCH ("), "4 did not change: {changed}");
    let limited = first.ok(&format!("g UID FETCH 2,4 (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")).await;
    assert!(limited.contains("* VANISHED (EARLIER) 2\r\n"), "{limited}");

    first.expect(&format!("h FETCH 1 (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"), "BAD").await;
}

#[tokio::test]
async fn vanished_modifier_needs_qresync_enabled() {
    let harness = harness_with(2).await;
    let mut client = harness.selected().await;
    client.expect("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "BAD").await;
    client.expect("g UID FETCH 1:* (FLAGS) (VANISHED)", "BAD").await;
    client.ok("n NOOP").await;
}

#[tokio::test]
async fn condstore_adds_modseq_to_other_sessions_flag_changes() {
    let harness = harness_with(2).await;
    let mut first = harness.logged_in().await;
    first.ok("e ENABLE CONDSTORE").await;
    first.ok("s SELECT INBOX").await;
    let mut other = harness.selected().await;
    other.ok("a STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    let seen = first.ok("n NOOP").await;
    assert!(seen.contains("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("), "{seen}");
}

#[tokio::test]
async fn imap4rev2_select_has_no_recent() {
    let harness = harness_with(1).await;
    let mut client = harness.logged_in().await;
    assert!(client.ok("s SELECT INBOX").await.contains("* 0 RECENT"));
    let enabled = client.ok("e ENABLE IMAP4rev2").await;
    assert!(enabled.contains("* ENABLED IMAP4rev2"), "{enabled}");
    assert!(!client.ok("t SELECT INBOX").await.contains("RECENT"));
}

#[tokio::test]
async fn fetch_without_peek_reports_the_new_modseq_under_condstore() {
    let harness = harness_with(1).await;
    let mut client = harness.logged_in().await;
    let reply = client.ok("s SELECT INBOX (CONDSTORE)").await;
    let highest = number_after(&reply, "HIGHESTMODSEQ", "HIGHESTMODSEQ");
    let fetched = client.ok("f FETCH 1 (BODY[TEXT])").await;
    let last_fetch = fetched.lines().rfind(|l| l.contains("MODSEQ")).unwrap().to_owned();
    assert!(number_after(&last_fetch, "FETCH", "MODSEQ") > highest, "{fetched}");
}

#[tokio::test]
async fn fetch_modseq_turns_condstore_on() {
    let harness = harness_with(2).await;
    let mut first = harness.selected().await;
    first.ok("f FETCH 1 (MODSEQ)").await;
    let mut other = harness.selected().await;
    other.ok("a STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    let seen = first.ok("n NOOP").await;
    assert!(seen.contains("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("), "{seen}");
}

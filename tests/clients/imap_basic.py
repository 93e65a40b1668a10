#!/usr/bin/env python3
"""IMAP with Python's imaplib against a running server: login, mailboxes
(create, rename, delete, list, subscribe), select, append, fetch (with a
partial range), store, search, copy and move with their UIDPLUS codes,
expunge, and a second connection that sees EXISTS and EXPUNGE at NOOP.

Exit status 0 when every step behaved; prints what it checked."""
import argparse
import imaplib
import re

from checks import check, ok

MESSAGE = (
    b"From: Bob <bob@example.com>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: imaplib test\r\n"
    b"\r\n"
    b"Hello from imaplib.\r\n"
)


def connect(args):
    host, port = args.imap.rsplit(":", 1)
    imap = imaplib.IMAP4(host, int(port))
    ok(imap.login(args.user, args.password), "login")
    return imap


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--imap", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()

    imap = connect(args)
    check("UIDPLUS" in imap.capabilities and "MOVE" in imap.capabilities, "capabilities advertised")
    check("IMAP4REV2" in imap.capabilities and "IMAP4REV1" in imap.capabilities, "IMAP4rev1 and IMAP4rev2 advertised")

    ok(imap.create("Work/Projects"), "create with a superior")
    names = ok(imap.list('""', "*"), "list")
    check(any(b'"Work/Projects"' in n for n in names), "list shows the new mailbox")
    ok(imap.rename("Work", "Play"), "rename with inferiors")
    names = ok(imap.list('""', "Play/%"), "list with %")
    check(names == [b'(\\HasNoChildren) "/" "Play/Projects"'], f"rename moved inferiors: {names}")
    ok(imap.subscribe("Play"), "subscribe")
    check(any(b'"Play"' in n for n in ok(imap.lsub('""', "*"), "lsub")), "lsub shows it")
    ok(imap.delete("Play/Projects"), "delete")
    typ, _ = imap.delete("Nothing")
    check(typ == "NO", "deleting a missing mailbox is NO")

    typ, data = imap.append("INBOX", "(\\Flagged)", None, MESSAGE)
    check(typ == "OK" and b"APPENDUID" in data[0], f"append answers APPENDUID: {data}")
    ok(imap.append("INBOX", None, None, MESSAGE), "second append")
    exists = ok(imap.select("INBOX"), "select")
    check(exists == [b"2"], f"two messages exist: {exists}")

    data = ok(imap.fetch("1", "(UID FLAGS RFC822.SIZE)"), "fetch flags")
    check(b"\\Flagged" in data[0] and f"RFC822.SIZE {len(MESSAGE)}".encode() in data[0], f"fetch: {data}")
    data = ok(imap.fetch("1", "(BODY.PEEK[])"), "fetch body")
    check(data[0][1] == MESSAGE, "body round-trips byte for byte")
    data = ok(imap.fetch("1", "(BODY.PEEK[]<6.3>)"), "fetch partial")
    check(data[0][1] == b"Bob", f"partial fetch: {data}")
    data = ok(imap.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "fetch header fields")
    check(data[0][1] == b"Subject: imaplib test\r\n\r\n", f"header fields: {data}")
    data = ok(imap.fetch("1", "(FLAGS)"), "flags after peek")
    check(b"\\Seen" not in data[0], "PEEK does not set \\Seen")
    ok(imap.fetch("1", "(BODY[TEXT])"), "fetch text")
    data = ok(imap.fetch("1", "(FLAGS)"), "flags after fetch")
    check(b"\\Seen" in data[0], "BODY[] sets \\Seen")

    ok(imap.store("2", "+FLAGS", "(\\Answered)"), "store")
    check(ok(imap.search(None, "UNSEEN"), "search unseen") == [b"2"], "search UNSEEN")
    check(ok(imap.search(None, "SUBJECT", '"imaplib"'), "search subject") == [b"1 2"], "search SUBJECT")
    check(ok(imap.uid("SEARCH", "ANSWERED"), "uid search") == [b"2"], "UID SEARCH ANSWERED")

    ok(imap.create("Saved"), "create Saved")
    ok(imap.copy("1", "Saved"), "copy")
    _, code = imap.response("COPYUID")
    check(code and re.fullmatch(rb"\d+ 1 1", code[-1]), f"copy answers COPYUID: {code}")
    typ, data = imap.uid("MOVE", "2", "Saved")
    check(typ == "OK", f"uid move: {data}")
    check(ok(imap.status("Saved", "(MESSAGES)"), "status") == [b'"Saved" (MESSAGES 2)'], "saved has two")

    # Another session appends and expunges; this one learns at NOOP.
    other = connect(args)
    ok(other.append("INBOX", None, None, MESSAGE), "append from another session")
    ok(imap.noop(), "noop")
    check(imap.untagged_responses.get("EXISTS", [b""])[-1] == b"2", f"EXISTS seen: {imap.untagged_responses}")
    ok(other.select("INBOX"), "other selects")
    ok(other.store("1", "+FLAGS", "(\\Deleted)"), "other marks deleted")
    ok(other.expunge(), "other expunges")
    imap.untagged_responses.clear()
    ok(imap.noop(), "noop again")
    check(imap.untagged_responses.get("EXPUNGE") == [b"1"], f"EXPUNGE seen: {imap.untagged_responses}")
    other.logout()

    ok(imap.store("1", "+FLAGS", "(\\Deleted)"), "mark deleted")
    imap.untagged_responses.clear()
    data = ok(imap.expunge(), "expunge")
    check(data == [b"1"], f"expunge reports 1: {data}")
    data = ok(imap.select("INBOX"), "select again")
    check(data == [b"0"], f"inbox empty: {data}")
    ok(imap.close(), "close")
    imap.logout()
    print("imap scenario passed")


if __name__ == "__main__":
    main()

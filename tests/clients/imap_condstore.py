#!/usr/bin/env python3
"""CONDSTORE and QRESYNC (RFC 7162) with real clients: imapclient's
select_folder, fetch modifiers and folder_status, and imaplib for what
imapclient has no call for (UNCHANGEDSINCE, ENABLE QRESYNC, SELECT with
QRESYNC, the VANISHED modifier)."""
import argparse
import imaplib
import re

from imapclient import IMAPClient

from checks import check, ok

FOLDER = "Resync"


def message(n):
    return (f"From: Carol <carol@example.com>\r\nTo: alice@example.com\r\n"
            f"Subject: resync {n}\r\n\r\nbody {n}\r\n").encode()


def condstore_with_imapclient(args):
    client = IMAPClient(args.host, port=args.port, ssl=False)
    client.login(args.user, args.password)
    caps = client.capabilities()
    check(b"CONDSTORE" in caps and b"QRESYNC" in caps, "CONDSTORE and QRESYNC advertised")
    client.create_folder(FOLDER)
    for n in range(6):
        client.append(FOLDER, message(n))
    check(b"CONDSTORE" in client.enable("CONDSTORE"), "ENABLE CONDSTORE")
    info = client.select_folder(FOLDER)
    highest = info[b"HIGHESTMODSEQ"]
    check(highest > 0 and info[b"EXISTS"] == 6, f"SELECT reports HIGHESTMODSEQ {highest}")
    modseqs = client.fetch(list(range(1, 7)), ["MODSEQ"])
    check(len(modseqs) == 6 and max(m[b"MODSEQ"][0] for m in modseqs.values()) == highest,
          "FETCH MODSEQ for every message, the highest equal to HIGHESTMODSEQ")
    client.add_flags([2, 5], [b"\\Flagged"])
    changed = client.fetch(list(range(1, 7)), ["FLAGS"], modifiers=[f"CHANGEDSINCE {highest}"])
    check(sorted(changed) == [2, 5], f"CHANGEDSINCE returns only the flagged UIDs ({sorted(changed)})")
    check(all(c[b"MODSEQ"][0] > highest and b"\\Flagged" in c[b"FLAGS"] for c in changed.values()),
          "their MODSEQ moved past the old HIGHESTMODSEQ")
    status = client.folder_status(FOLDER, ["HIGHESTMODSEQ", "MESSAGES"])
    check(status[b"HIGHESTMODSEQ"] == changed[5][b"MODSEQ"][0], "STATUS HIGHESTMODSEQ is the newest change")
    client.logout()
    return highest


def unchangedsince_with_imaplib(args):
    imap = imaplib.IMAP4(args.host, args.port)
    ok(imap.login(args.user, args.password), "imaplib LOGIN")
    ok(imap.select(FOLDER), "SELECT")
    data = ok(imap._simple_command("UID", "FETCH", "1:3", "(MODSEQ)"), "UID FETCH MODSEQ")
    fetches = imap.untagged_responses.pop("FETCH", [])
    base = max(int(re.search(rb"MODSEQ \((\d+)\)", f).group(1)) for f in fetches)
    # Another client changes UID 3 after we read its modseq.
    other = IMAPClient(args.host, port=args.port, ssl=False)
    other.login(args.user, args.password)
    other.select_folder(FOLDER)
    other.add_flags([3], [b"\\Answered"], silent=True)
    other.logout()
    data = ok(imap._simple_command("UID", "STORE", "1:3", f"(UNCHANGEDSINCE {base})", "+FLAGS", "(\\Seen)"),
              "conditional UID STORE")
    check(b"[MODIFIED 3]" in data[0], f"the modified message is refused: {data[0]!r}")
    stored = imap.untagged_responses.pop("FETCH", [])
    # UID 3 is reported changed (by the other client), but without \Seen.
    check(not any(b"UID 3 " in f and b"\\Seen" in f for f in stored), "the refused message was not changed")
    flags = ok(imap.uid("FETCH", "3", "(FLAGS)"), "UID FETCH FLAGS")
    check(b"\\Seen" not in flags[0], "the refused message kept its flags")
    imap.logout()


def qresync_with_imaplib(args):
    imap = imaplib.IMAP4(args.host, args.port)
    ok(imap.login(args.user, args.password), "imaplib LOGIN")
    data = ok(imap._simple_command("ENABLE", "QRESYNC"), "ENABLE QRESYNC")
    check(any(b"QRESYNC" in r for r in imap.untagged_responses.pop("ENABLED", [])), "* ENABLED QRESYNC")
    ok(imap.select(FOLDER), "SELECT")
    validity = int(imap.untagged_responses["UIDVALIDITY"][-1])
    highest = int(imap.untagged_responses["HIGHESTMODSEQ"][-1])
    ok(imap._simple_command("UNSELECT"), "UNSELECT")

    other = IMAPClient(args.host, port=args.port, ssl=False)
    other.login(args.user, args.password)
    other.select_folder(FOLDER)
    other.delete_messages([1, 4])
    other.expunge()
    other.add_flags([6], [b"$Important"])
    other.logout()

    imap.untagged_responses.clear()
    ok(imap._simple_command("SELECT", FOLDER, f"(QRESYNC ({validity} {highest}))"), "SELECT (QRESYNC ...)")
    vanished = imap.untagged_responses.pop("VANISHED", [])
    check(vanished == [b"(EARLIER) 1,4"], f"VANISHED (EARLIER) names the expunged UIDs: {vanished!r}")
    fetches = imap.untagged_responses.pop("FETCH", [])
    uids = sorted(int(re.search(rb"UID (\d+)", f).group(1)) for f in fetches)
    check(uids == [6], f"FETCH for the one message changed since ({uids})")
    check(any(b"$Important" in f for f in fetches), "with their new flags")

    imap.untagged_responses.clear()
    ok(imap._simple_command("UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {highest} VANISHED)"),
       "UID FETCH (CHANGEDSINCE .. VANISHED)")
    check(imap.untagged_responses.pop("VANISHED", []) == [b"(EARLIER) 1,4"], "VANISHED (EARLIER) from UID FETCH")

    # Our own expunge is reported as VANISHED, not EXPUNGE.
    imap.untagged_responses.clear()
    ok(imap.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)"), "flag UID 2 deleted")
    ok(imap._simple_command("EXPUNGE"), "EXPUNGE")
    check(imap.untagged_responses.pop("VANISHED", []) == [b"2"], "* VANISHED 2")
    check("EXPUNGE" not in imap.untagged_responses, "no EXPUNGE response under QRESYNC")
    imap.logout()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imap", required=True, help="host:port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    host, port = args.imap.rsplit(":", 1)
    args.host, args.port = host, int(port)
    condstore_with_imapclient(args)
    unchangedsince_with_imaplib(args)
    qresync_with_imaplib(args)
    print("imap condstore scenario passed")


if __name__ == "__main__":
    main()

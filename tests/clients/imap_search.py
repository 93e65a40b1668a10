#!/usr/bin/env python3
"""SEARCH with Python's imaplib against a running server: APPENDs
messages with encoded-word subjects, quoted-printable and base64 bodies
in UTF-8 and Latin-1, and Date fields in different time zones, then
checks SEARCH and UID SEARCH on decoded text, sent and internal dates,
SEARCH RETURN (ESEARCH), the saved result `$` (SEARCHRES) and the
ESEARCH answers after ENABLE IMAP4rev2.

Exit status 0 when every step behaved; prints what it checked."""
import argparse
import imaplib
import re

from checks import check, ok

# Sent 7 Feb in its own zone (8 Feb in UTC).
PLAIN = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"From: Fred Foobar <foobar@example.org>\r\n"
    b"To: mooch@example.net\r\n"
    b"Subject: afternoon meeting\r\n"
    b"\r\n"
    b"Hello Joe, meet at 3:30?\r\n"
)
# Sent 8 Feb in its own zone (7 Feb in UTC).
ENCODED = (
    b"Date: Tue, 8 Feb 1994 00:30:00 +0900\r\n"
    b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Die Stra=C3=9Fe ist lang.\r\n"
)
# No Date field; a Latin-1 body in base64.
LATIN1 = (
    b"From: bob@example.com\r\n"
    b"Subject: =?iso-8859-1?q?caf=E9?= order\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"Q3LobWUgYnL7bOllLCBzJ2lsIHZvdXMgcGxh7nQ=\r\n"
)
# Sent 31 Dec 2019 in its own zone, 1 Jan 2020 in UTC.
ALTERNATIVE = (
    b"Date: Tue, 31 Dec 2019 23:00:00 -0500\r\n"
    b"From: carol@example.net\r\n"
    b"Subject: year end\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=\"b\"\r\n"
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Happy =E2=9C=A8 new year\r\n"
    b"--b\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Happy new year</p>\r\n"
    b"--b--\r\n"
)


def numbers(data):
    """The numbers of a SEARCH response."""
    return (data[0] or b"").decode().split()


def search(imap, what, *criteria, charset=None, literal=None):
    if literal is not None:
        imap.literal = literal
    return numbers(ok(imap.search(charset, *criteria), what))


def esearch(imap, what, *args, uid=False):
    """The text of the ESEARCH response to `[UID] SEARCH args`, without
    its `(TAG ...)`; '' when none came."""
    command = ("UID", "SEARCH") if uid else ("SEARCH",)
    typ, data = imap._simple_command(*command, *args)
    check(typ == "OK", f"{what} ({typ} {data!r})")
    _, responses = imap.response("ESEARCH")
    responses = [r for r in responses if r is not None]
    check(len(responses) <= 1, f"{what}: one ESEARCH at most ({responses!r})")
    if not responses:
        return ""
    text = responses[0].decode()
    check(re.match(r'\(TAG "[^"]+"\)', text) is not None, f"{what}: ESEARCH carries the tag ({text})")
    return re.sub(r'^\(TAG "[^"]+"\) ?', "", text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--imap", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()

    host, port = args.imap.rsplit(":", 1)
    imap = imaplib.IMAP4(host, int(port))
    caps = imap.capabilities
    check(all(c in caps for c in ("IMAP4REV2", "ESEARCH", "SEARCHRES")), f"capabilities: {caps}")
    ok(imap.login(args.user, args.password), "login")
    ok(imap.create("Search"), "create")
    for message, flags, date in [
        (PLAIN, "(\\Seen)", '"14-Nov-2023 10:00:00 +0000"'),
        (ENCODED, "(\\Flagged)", '"14-Nov-2023 11:00:00 +0000"'),
        (LATIN1, None, '"01-Jan-2020 12:00:00 +0000"'),
        (ALTERNATIVE, "(\\Seen \\Flagged)", '"15-Nov-2023 09:00:00 +0000"'),
    ]:
        ok(imap.append("Search", flags, date, message), "append")
    ok(imap.select("Search"), "select")

    check(search(imap, "all", "ALL") == ["1", "2", "3", "4"], "SEARCH ALL")
    check(search(imap, "subject", "SUBJECT", "meeting") == ["1"], "SEARCH SUBJECT")
    got = search(imap, "utf-8 subject", "SUBJECT", charset="UTF-8", literal="KÖLN".encode())
    check(got == ["2"], f"SUBJECT in an encoded word, any case: {got}")
    got = search(imap, "latin-1 subject", "SUBJECT", charset="UTF-8", literal="café".encode())
    check(got == ["3"], f"SUBJECT in a Latin-1 encoded word: {got}")
    got = search(imap, "raw subject", "SUBJECT", '"=?utf-8"')
    check(got == [], f"the raw encoded word is not searched: {got}")
    got = search(imap, "from", "FROM", charset="UTF-8", literal="jörg".encode())
    check(got == ["2"], f"FROM a decoded display name: {got}")
    got = search(imap, "qp body", "BODY", charset="UTF-8", literal="straße".encode())
    check(got == ["2"], f"BODY in quoted-printable UTF-8: {got}")
    got = search(imap, "base64 body", "BODY", charset="UTF-8", literal="BRÛLÉE".encode())
    check(got == ["3"], f"BODY in base64 Latin-1: {got}")
    got = search(imap, "text", "TEXT", charset="UTF-8", literal="✨".encode())
    check(got == ["4"], f"TEXT in a multipart: {got}")
    check(search(imap, "text header", "TEXT", "mooch") == ["1"], "TEXT in a header")
    check(search(imap, "senton", "SENTON", "7-Feb-1994") == ["1"], "SENTON in the Date's own zone (-0800)")
    check(search(imap, "senton", "SENTON", "8-Feb-1994") == ["2"], "SENTON in the Date's own zone (+0900)")
    check(search(imap, "sentbefore", "SENTBEFORE", "1-Jan-2020") == ["1", "2", "4"], "SENTBEFORE")
    check(search(imap, "sentsince", "SENTSINCE", "1-Jan-2020") == [], "SENTSINCE: 31 Dec -0500 is not 1 Jan")
    check(search(imap, "no date", "NOT", "SENTSINCE", "1-Jan-1900") == ["3"], "no Date field: no SENT* match")
    check(search(imap, "before", "BEFORE", "1-Jan-2021") == ["3"], "BEFORE (internal date)")
    check(search(imap, "on", "ON", "15-Nov-2023") == ["4"], "ON (internal date)")
    check(search(imap, "since", "SINCE", "14-Nov-2023", "UNSEEN") == ["2"], "SINCE with UNSEEN")
    check(search(imap, "or", "OR", "SEEN", "FLAGGED", "NOT", "4") == ["1", "2"], "OR, NOT and a sequence set")
    check(search(imap, "header", "HEADER", "Content-Transfer-Encoding", '""') == ["2", "3"], "HEADER with \"\"")
    check(search(imap, "larger", "LARGER", str(len(ENCODED))) == ["4"], "LARGER")
    check(search(imap, "smaller", "SMALLER", str(len(ENCODED))) == ["1", "3"], "SMALLER")

    got = numbers(ok(imap.uid("SEARCH", "FLAGGED"), "uid search"))
    _, uids = imap.uid("SEARCH", "ALL")
    all_uids = numbers(uids)
    check(got == [all_uids[1], all_uids[3]], f"UID SEARCH FLAGGED: {got}")

    got = esearch(imap, "esearch", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
    check(got == "MIN 2 MAX 3 COUNT 2 ALL 2:3", f"SEARCH RETURN (MIN MAX COUNT ALL): {got}")
    got = esearch(imap, "esearch ()", "RETURN", "()", "SEEN")
    check(got == "ALL 1,4", f"SEARCH RETURN (): {got}")
    got = esearch(imap, "uid esearch", "RETURN", "(COUNT)", "FLAGGED", uid=True)
    check(got == "UID COUNT 2", f"UID SEARCH RETURN (COUNT): {got}")
    got = esearch(imap, "esearch, no match", "RETURN", "(MIN MAX ALL)", "SUBJECT", "nothing-like-it")
    check(got == "", f"no match: no result items ({got!r})")

    got = esearch(imap, "save", "RETURN", "(SAVE)", "FLAGGED")
    check(got == "", "SAVE alone: no ESEARCH")
    data = ok(imap.fetch("$", "(UID)"), "fetch $")
    check([d.split()[0] for d in data] == [b"2", b"4"], f"FETCH $: {data!r}")
    check(search(imap, "search $", "NOT", "$") == ["1", "3"], "SEARCH NOT $")
    ok(imap.store("$", "+FLAGS", "(\\Answered)"), "store $")
    check(search(imap, "answered", "ANSWERED") == ["2", "4"], "STORE $ set the flag")
    ok(imap.create("Saved"), "create Saved")
    ok(imap.copy("$", "Saved"), "copy $")
    ok(imap.select("Saved", readonly=True), "examine Saved")
    check(search(imap, "copied", "ALL") == ["1", "2"], "COPY $ copied both")
    ok(imap.select("Search"), "select again")
    typ, data = imap.fetch("$", "(UID)")
    check(typ == "OK" and data == [None], f"$ after SELECT is the empty set (RFC 9051 6.4.4.1): {typ} {data!r}")

    try:
        imap.search(None, "NOSUCHKEY")
        check(False, "unknown key is BAD")
    except imaplib.IMAP4.error as e:
        check("BAD" in str(e) or "syntax" in str(e), f"unknown key is BAD: {e}")
    typ, data = imap.search("KOI8-R", "ALL")
    check(typ == "NO" and b"[BADCHARSET (UTF-8 US-ASCII)]" in data[0], f"unknown charset: {typ} {data!r}")

    # imaplib allows ENABLE only with no mailbox selected.
    ok(imap.unselect(), "unselect")
    ok(imap.enable("IMAP4rev2"), "enable IMAP4rev2")
    ok(imap.select("Search"), "select after ENABLE")
    got = esearch(imap, "rev2 search", "SEEN")
    check(got == "ALL 1,4", f"after ENABLE IMAP4rev2, SEARCH answers ESEARCH: {got}")
    imap.logout()
    print("imap search scenario passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""IMAP extensions around mailboxes with Python's imaplib against a running
server: SPECIAL-USE and CHILDREN in LIST, LIST-EXTENDED, LIST-STATUS, NAMESPACE, QUOTA (GETQUOTAROOT,
GETQUOTA, SETQUOTA refused, APPEND over quota), APPENDLIMIT, LITERAL- before
login and LITERAL+ after it, AUTHENTICATE LOGIN, ENABLE.

The account given must have a quota of --quota bytes and be new.
Exit status 0 when every step behaved; prints what it checked."""
import argparse
import imaplib
import socket

from checks import check, ok


def address(args):
    host, port = args.imap.rsplit(":", 1)
    return host, int(port)


def capabilities_before_login(args):
    imap = imaplib.IMAP4(*address(args))
    caps = imap.capabilities
    for cap in ("AUTH=LOGIN", "LITERAL-", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "NAMESPACE",
                "QUOTA", "QUOTA=RES-STORAGE"):
        check(cap in caps, f"{cap} advertised before login")
    check("LITERAL+" not in caps, "no LITERAL+ before login")
    check(any(c.startswith("APPENDLIMIT=") for c in caps), f"APPENDLIMIT advertised: {caps}")
    imap.logout()


def authenticate_login(args):
    imap = imaplib.IMAP4(*address(args))
    answers = iter([args.user.encode(), args.password.encode()])
    # imaplib base64-encodes what the callback returns for each "+".
    typ, data = imap.authenticate("LOGIN", lambda _challenge: next(answers))
    check(typ == "OK", f"AUTHENTICATE LOGIN ({typ} {data!r})")
    check(imap.state == "AUTH", "authenticated by LOGIN")
    return imap


def raw_literals(args):
    """LITERAL- before login, LITERAL+ after, over a raw socket."""
    with socket.create_connection(address(args)) as s:
        f = s.makefile("rb")
        f.readline()
        password = args.password.encode()
        s.sendall(b"1 LOGIN " + args.user.encode() + b" {%d+}\r\n" % len(password) + password + b"\r\n")
        reply = f.readline()
        check(reply.startswith(b"1 OK") and b"LITERAL+" in reply, f"login with a non-sync literal: {reply!r}")
        body = b"Subject: literal plus\r\n\r\nno round trip\r\n"
        s.sendall(b"2 APPEND Drafts {%d+}\r\n" % len(body) + body + b"\r\n")
        reply = f.readline()
        check(reply.startswith(b"2 OK [APPENDUID "), f"append with a non-sync literal: {reply!r}")
    with socket.create_connection(address(args)) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"3 LOGIN " + args.user.encode() + b" {5000+}\r\n")
        reply = f.readline()
        check(reply.startswith(b"3 BAD [TOOBIG]"), f"non-sync literal over 4096 before login refused: {reply!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imap", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--quota", type=int, required=True)
    args = parser.parse_args()

    capabilities_before_login(args)
    imap = authenticate_login(args)

    data = ok(imap.list('""', "*"), "list")
    for name, attribute in [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                            ("Junk", "\\Junk"), ("Archive", "\\Archive")]:
        line = f'(\\HasNoChildren {attribute}) "/" "{name}"'.encode()
        check(line in data, f"{name} listed with {attribute}: {data}")
    check(b'(\\HasNoChildren) "/" "INBOX"' in data, "INBOX listed")
    ok(imap.create("Archive/2025"), "create Archive/2025")
    data = ok(imap.list('""', "Archive*"), "list Archive*")
    check(b'(\\HasChildren \\Archive) "/" "Archive"' in data, f"Archive has children: {data}")
    data = ok(imap.lsub('""', "*"), "lsub")
    check(any(b'"Sent"' in line for line in data), f"Sent subscribed: {data}")

    # LIST-EXTENDED and LIST-STATUS (imaplib sends the arguments as given).
    ok(imap.subscribe("Archive/2025"), "subscribe Archive/2025")
    ok(imap.unsubscribe("Archive"), "unsubscribe Archive")
    data = ok(imap.list('(SUBSCRIBED RECURSIVEMATCH) ""', "%"), "list subscribed recursivematch")
    check(b'(\\HasChildren \\Archive) "/" "Archive" ("CHILDINFO" ("SUBSCRIBED"))' in data, f"CHILDINFO: {data}")
    check(b'(\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"' in data, f"Sent subscribed: {data}")
    imap.untagged_responses.pop("STATUS", None)
    data = ok(imap.list('""', "(INBOX Drafts) RETURN (STATUS (MESSAGES UNSEEN))"), "list-status")
    check(len(data) == 2, f"two mailboxes: {data}")
    status = imap.untagged_responses.pop("STATUS", None)
    check(status == [b'"Drafts" (MESSAGES 0 UNSEEN 0)', b'"INBOX" (MESSAGES 0 UNSEEN 0)'], f"status: {status}")

    typ, data = imap.namespace()
    check(typ == "OK" and data == [b'(("" "/")) NIL NIL'], f"namespace: {data}")

    data = ok(imap.getquotaroot("INBOX"), "getquotaroot")
    check(data == [[b'"INBOX" ""'], [b'"" (STORAGE 0 %d)' % (args.quota // 1024)]], f"quota root: {data}")
    data = ok(imap.getquota('""'), "getquota")
    check(data == [b'"" (STORAGE 0 %d)' % (args.quota // 1024)], f"quota: {data}")
    typ, data = imap.setquota('""', "(STORAGE 1)")
    check(typ == "NO", f"setquota refused: {data}")
    big = b"Subject: too big\r\n\r\n" + b"x" * (args.quota + 1) + b"\r\n"
    typ, data = imap.append("INBOX", None, None, big)
    check(typ == "NO" and b"[OVERQUOTA]" in data[0], f"append over quota: {typ} {data}")

    typ, data = imap._simple_command("ENABLE", "CONDSTORE", "X-UNKNOWN")
    enabled = imap.untagged_responses.pop("ENABLED", None)
    check(typ == "OK" and enabled == [b"CONDSTORE"], f"enable turns on only what it knows: {enabled}")
    imap.logout()

    raw_literals(args)
    print("imap mailboxes scenario passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""FETCH of MIME structure with Python's imaplib against a running server:
APPENDs a multipart message with a base64 attachment and a forwarded
message/rfc822, then checks ENVELOPE, BODYSTRUCTURE, part sections with
partials, HEADER.FIELDS of an encapsulated message, BINARY and
BINARY.SIZE.

Exit status 0 when every step behaved; prints what it checked."""
import argparse
import base64
import imaplib
import re

from checks import check, ok

ATTACHMENT = bytes(range(256))
MESSAGE = (
    b"From: Bob <bob@example.com>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?= structure\r\n"
    b"Message-ID: <fetch-test@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9 for everyone\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream; name=\"bytes.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"bytes.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")
    + b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: Carol <carol@example.com>\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--outer--\r\n"
)


def fetch_one(imap, items, what):
    """The FETCH response for message 1 as (text of the response, literals)."""
    data = ok(imap.fetch("1", items), what)
    text = b""
    literals = []
    for entry in data:
        if isinstance(entry, tuple):
            text += entry[0]
            literals.append(entry[1])
        else:
            text += entry
    return text, literals


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--imap", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()

    host, port = args.imap.rsplit(":", 1)
    imap = imaplib.IMAP4(host, int(port))
    ok(imap.login(args.user, args.password), "login")
    ok(imap.create("Fetch"), "create")
    ok(imap.append("Fetch", None, None, MESSAGE), "append a multipart message")
    ok(imap.select("Fetch"), "select")

    text, _ = fetch_one(imap, "(ENVELOPE)", "fetch ENVELOPE")
    check(b'"=?utf-8?q?caf=C3=A9?= structure"' in text, f"envelope subject: {text!r}")
    check(b'(("Bob" NIL "bob" "example.com"))' in text, "envelope from")
    check(b'"<fetch-test@example.com>"' in text, "envelope message-id")

    text, _ = fetch_one(imap, "(BODYSTRUCTURE)", "fetch BODYSTRUCTURE")
    check(b'"MIXED" ("BOUNDARY" "outer")' in text, f"multipart/mixed: {text!r}")
    check(b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 22 1' in text, "text part")
    check(b'("attachment" ("FILENAME" "bytes.bin"))' in text, "attachment disposition")
    check(b'"MESSAGE" "RFC822"' in text and b'"inner"' in text, "message/rfc822 part with its envelope")

    text, literals = fetch_one(imap, "(BODY.PEEK[1]<0.4> BODY.PEEK[3.HEADER.FIELDS (SUBJECT)] BODY.PEEK[3.TEXT])",
                               "fetch sections")
    check(literals[0] == b"caf=", f"partial of part 1: {literals!r}")
    check(literals[1] == b"Subject: inner\r\n\r\n", "header fields of the forwarded message")
    check(literals[2] == b"inner body", "text of the forwarded message")

    text, literals = fetch_one(imap, "(BODY.PEEK[1]<1000.10>)", "fetch a partial past the end")
    check(literals == [] or literals == [b""], f"empty string past the end: {text!r} {literals!r}")

    text, literals = fetch_one(imap, "(BINARY.PEEK[2] BINARY.SIZE[2])", "fetch BINARY")
    check(ATTACHMENT in literals, "base64 decoded")
    check(b"BINARY.SIZE[2] 256" in text, f"binary size: {text!r}")
    text, literals = fetch_one(imap, "(BINARY.PEEK[1])", "fetch BINARY of quoted-printable")
    check(literals[0] == "café for everyone".encode(), f"quoted-printable decoded: {literals!r}")

    text, _ = fetch_one(imap, "(FLAGS)", "flags after PEEK")
    check(b"\\Seen" not in text, "PEEK left \\Seen unset")
    fetch_one(imap, "(BODY[1.MIME])", "fetch without PEEK")
    text, _ = fetch_one(imap, "(FLAGS)", "flags after BODY[]")
    check(b"\\Seen" in text, "BODY[1.MIME] set \\Seen")

    try:
        imap.fetch("1", "(BODY[1.HEADER.FIELDS (SUBJECT)")
        check(False, "unbalanced parenthesis is BAD")
    except imaplib.IMAP4.error as e:
        check("BAD" in str(e), f"unbalanced parenthesis is BAD: {e}")
    text, _ = fetch_one(imap, "(UID)", "the session goes on")
    imap.logout()
    print("imap fetch scenario passed")


if __name__ == "__main__":
    main()

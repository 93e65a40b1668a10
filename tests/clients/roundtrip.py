#!/usr/bin/env python3
"""A user's round trip with real client libraries: submit with smtplib
(AUTH over STARTTLS and over plain loopback), receive on the MX port, read
back with poplib (USER/PASS and STLS), delete, and check it is gone.

Exit status 0 when every step behaved; prints what it checked."""
import argparse
import email
import email.policy
import poplib
import smtplib
import ssl
import sys
import uuid


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smtp", required=True)
    p.add_argument("--submission", required=True)
    p.add_argument("--pop3", required=True)
    p.add_argument("--user", required=True, help="full account name")
    p.add_argument("--password", required=True)
    p.add_argument("--sender", required=True, help="another account that submits")
    p.add_argument("--sender-password", required=True)
    a = p.parse_args()
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE

    tag = uuid.uuid4().hex
    # 1. Submission with STARTTLS then AUTH, as a mail client does.
    with smtplib.SMTP(*hostport(a.submission), timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls"), "submission must offer STARTTLS"
        s.starttls(context=tls)
        s.ehlo("client.example")
        assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
        s.login(a.sender, a.sender_password)
        msg = email.message.EmailMessage()
        msg["From"] = a.sender
        msg["To"] = a.user
        msg["Subject"] = f"submitted {tag}"
        msg.set_content("Hello über TLS.\n.leading dot line\n")
        refused = s.send_message(msg)
        assert not refused, refused
    print("submission over STARTTLS: accepted")

    # 2. Inbound on the MX port, no auth, with 8BITMIME.
    with smtplib.SMTP(*hostport(a.smtp), timeout=30) as s:
        code, _ = s.ehlo("mx.remote.example")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"):
            assert s.has_extn(ext), f"EHLO lacks {ext}: {s.esmtp_features}"
        body = f"From: someone@remote.example\r\nTo: {a.user}\r\nSubject: inbound {tag}\r\n\r\nline one\r\n..two dots\r\n".encode()
        s.sendmail("someone@remote.example", [a.user], body, mail_options=["BODY=8BITMIME"])
        try:
            s.sendmail("someone@remote.example", ["nobody@elsewhere.example"], body)
            raise AssertionError("relay to a remote domain was accepted without auth")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@elsewhere.example"]
            assert code == 554 and b"5.7.1" in text, (code, text)
    print("inbound on MX: accepted; relay refused with 554 5.7.1")

    # 3. POP3: wait for both messages (delivery from the queue is quick
    #    but asynchronous), read them, delete one, QUIT, check.
    import time
    deadline = time.time() + 20
    while True:
        pop = poplib.POP3(*hostport(a.pop3), timeout=30)
        caps = pop.capa()
        for cap in ("UIDL", "TOP", "USER", "RESP-CODES", "STLS", "SASL"):
            assert cap in caps, f"CAPA lacks {cap}: {caps}"
        pop.user(a.user)
        pop.pass_(a.password)
        count, _ = pop.stat()
        if count >= 2 or time.time() > deadline:
            break
        pop.quit()
        time.sleep(0.05)
    assert count == 2, f"expected 2 messages, found {count}"
    subjects = {}
    for i in (1, 2):
        _, lines, _ = pop.retr(i)
        m = email.message_from_bytes(b"\r\n".join(lines), policy=email.policy.default)
        subjects[m["Subject"]] = (i, m)
    sub = subjects[f"submitted {tag}"][1]
    assert ".leading dot line" in sub.get_content(), sub.get_content()
    assert "über" in sub.get_content()
    assert sub["Return-Path"] == f"<{a.sender}>", sub["Return-Path"]
    assert sub["Received"], "no Received header"
    inbound_index, inbound = subjects[f"inbound {tag}"]
    assert "..two dots" in inbound.get_content(), repr(inbound.get_content())
    uidl_before = pop.uidl()[1]
    _, top_lines, _ = pop.top(inbound_index, 0)
    assert any(l.startswith(b"Subject: inbound") for l in top_lines)
    assert b"line one" not in top_lines
    pop.dele(inbound_index)
    pop.quit()
    print("pop3: both messages read, dot-stuffing intact; one deleted")

    # 4. STLS, then the deleted message is gone and UIDs are stable.
    pop = poplib.POP3(*hostport(a.pop3), timeout=30)
    pop.stls(context=tls)
    pop.user(a.user)
    pop.pass_(a.password)
    count, _ = pop.stat()
    assert count == 1, count
    remaining = pop.uidl()[1]
    assert len(remaining) == 1 and remaining[0].split()[1] in [u.split()[1] for u in uidl_before]
    pop.quit()
    print("pop3 over STLS: deletion kept, UIDL stable")
    return 0


if __name__ == "__main__":
    sys.exit(main())

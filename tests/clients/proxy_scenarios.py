#!/usr/bin/env python3
"""Real clients (imaplib, poplib, smtplib) through a Rookery frontend
proxy: one scenario per sub-command, each printing what it checked and
exiting non-zero at the first surprise. Answers the tests compare (a
refused login) are printed as `answer: ...`."""
import argparse
import base64
import imaplib
import poplib
import smtplib
import socket
import ssl
import time

from checks import check, ok

DEADLINE = 20


def hostport(value):
    host, port = value.rsplit(":", 1)
    return host, int(port)


def unverified():
    # The frontend's certificate is made at test time.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def imap_login(args):
    imap = imaplib.IMAP4(*hostport(args.imap))
    if args.starttls:
        check("LOGINDISABLED" in imap.capabilities, f"no login before TLS: {imap.capabilities}")
        check("STARTTLS" in imap.capabilities, "STARTTLS advertised")
        ok(imap.starttls(ssl_context=unverified()), "starttls")
        check("AUTH=PLAIN" in imap.capabilities, f"login offered after TLS: {imap.capabilities}")
    if args.mechanism == "plain":
        ok(imap.authenticate("PLAIN", lambda _: f"\0{args.user}\0{args.password}".encode()), "authenticate plain")
    else:
        ok(imap.login(args.user, args.password), "login")
    check("IDLE" in imap.capabilities, "the backend's capabilities after login")
    deadline = time.time() + DEADLINE
    while True:
        count = int(ok(imap.select("INBOX"), "select")[0])
        if count >= args.min_messages or time.time() > deadline:
            break
        imap.close()
        time.sleep(0.1)
    check(count >= args.min_messages, f"{count} messages, at least {args.min_messages}")
    texts = []
    for n in range(1, count + 1):
        data = ok(imap.fetch(str(n), "(BODY.PEEK[])"), f"fetch {n}")
        texts.append(data[0][1].decode(errors="replace"))
    for wanted in args.expect:
        check(any(wanted in t for t in texts), f"a message contains {wanted!r}")
    for unwanted in args.refuse:
        check(not any(unwanted in t for t in texts), f"no message contains {unwanted!r}")
    imap.logout()


def imap_fail(args):
    imap = imaplib.IMAP4(*hostport(args.imap))
    try:
        imap.login(args.user, args.password)
    except imaplib.IMAP4.error as e:
        print(f"answer: {e}")
        check(imap.noop()[0] == "OK", "the session goes on after a refused login")
        return
    check(False, "login was refused")


def imap_idle(args):
    imap = imaplib.IMAP4(*hostport(args.imap))
    ok(imap.login(args.user, args.password), "login")
    before = int(ok(imap.select("INBOX"), "select")[0])
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    line = imap.readline()
    check(line.startswith(b"+"), f"idling: {line!r}")
    # Mail straight into the backend, from an address it does not treat as
    # a proxy, while the client idles through the frontend.
    with smtplib.SMTP(*hostport(args.smtp), source_address=("127.0.0.5", 0)) as smtp:
        smtp.sendmail("someone@remote.example", [args.to], f"Subject: {args.subject}\r\n\r\nnew mail\r\n")
    imap.sock.settimeout(DEADLINE)
    line = imap.readline()
    check(line.startswith(b"* ") and line.rstrip().endswith(b"EXISTS"), f"EXISTS while idling: {line!r}")
    check(int(line.split()[1]) == before + 1, "one more message")
    imap.send(b"DONE\r\n")
    line = imap.readline()
    check(line.startswith(tag + b" OK"), f"IDLE done: {line!r}")
    imap.logout()


def imap_unavailable(args):
    imap = imaplib.IMAP4(*hostport(args.imap))
    try:
        imap.login(args.user, args.password)
    except imaplib.IMAP4.error as e:
        print(f"answer: {e}")
        return
    check(False, "login was refused")


def pop3_login(args):
    pop = poplib.POP3(*hostport(args.pop3))
    if args.starttls:
        check("STLS" in pop.capa(), "STLS advertised")
        pop.stls(context=unverified())
        check("USER" in pop.capa(), "USER offered after TLS")
    if args.mechanism == "plain":
        resp = pop._shortcmd("AUTH PLAIN " + plain(args.user, args.password))
    else:
        pop.user(args.user)
        resp = pop.pass_(args.password)
    check(resp.startswith(b"+OK"), f"logged in: {resp!r}")
    count, _ = pop.stat()
    check(count >= args.min_messages, f"{count} messages, at least {args.min_messages}")
    texts = [b"\n".join(pop.retr(n)[1]).decode(errors="replace") for n in range(1, count + 1)]
    for wanted in args.expect:
        check(any(wanted in t for t in texts), f"a message contains {wanted!r}")
    pop.quit()


def pop3_fail(args):
    pop = poplib.POP3(*hostport(args.pop3))
    pop.user(args.user)
    try:
        pop.pass_(args.password)
    except poplib.error_proto as e:
        print(f"answer: {e}")
        check(pop.capa() is not None, "the session goes on after a refused login")
        return
    check(False, "login was refused")


def smtp_submit(args):
    smtp = smtplib.SMTP(*hostport(args.submission), source_address=(args.source, 0))
    smtp.ehlo("laptop.example")
    if args.starttls:
        check(not smtp.has_extn("auth"), "no AUTH before TLS")
        smtp.starttls(context=unverified())
        smtp.ehlo("laptop.example")
    check(smtp.has_extn("auth"), "AUTH offered")
    code, _ = smtp.login(args.user, args.password)
    check(code == 235, "logged in")
    refused = smtp.sendmail(args.sender, [args.to], f"Subject: {args.subject}\r\n\r\nthrough the frontend\r\n")
    check(not refused, "accepted")
    smtp.quit()


def smtp_fail(args):
    smtp = smtplib.SMTP(*hostport(args.submission))
    smtp.ehlo("laptop.example")
    try:
        smtp.login(args.user, args.password)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPException) as e:
        code = getattr(e, "smtp_code", "")
        message = getattr(e, "smtp_error", b"").decode()
        print(f"answer: {code} {message}")
        check(smtp.noop()[0] == 250, "the session goes on after a refused login")
        return
    check(False, "login was refused")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--imap")
    p.add_argument("--pop3")
    p.add_argument("--submission")
    p.add_argument("--smtp")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mechanism", default="login")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--min-messages", type=int, default=0)
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--sender")
    p.add_argument("--to")
    p.add_argument("--subject", default="hello")
    args = p.parse_args()
    socket.setdefaulttimeout(DEADLINE + 10)
    {
        "imap-login": imap_login,
        "imap-fail": imap_fail,
        "imap-idle": imap_idle,
        "imap-unavailable": imap_unavailable,
        "pop3-login": pop3_login,
        "pop3-fail": pop3_fail,
        "smtp-submit": smtp_submit,
        "smtp-fail": smtp_fail,
    }[args.scenario](args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Real clients (imaplib, poplib, smtplib) through a Rookery frontend
proxy: one scenario per sub-command, each printing what it checked and
exiting non-zero at the first surprise. Answers the tests compare (a
refused login) are printed as `answer: ...`."""
import argparse
import base64
import imaplib
import poplib
import select
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


def proxy_v2(client, server):
    """A HAProxy PROXY v2 header (TCP over IPv4) naming `client`."""
    import ipaddress
    import struct
    (cip, cport), (sip, sport) = hostport(client), server
    addresses = ipaddress.IPv4Address(cip).packed + ipaddress.IPv4Address(sip).packed + struct.pack("!HH", cport, sport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + b"\x21\x11" + struct.pack("!H", len(addresses)) + addresses


def connect(args, address, timeout):
    """A socket to `address` from `--source`, starting with a PROXY header
    naming `--proxy-client` when given (the test plays a load balancer)."""
    sock = socket.create_connection(address, timeout, source_address=(args.source, 0))
    if args.proxy_client:
        sock.sendall(proxy_v2(args.proxy_client, address))
    return sock


def imap_client(args):
    class Imap(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return connect(args, (self.host, self.port), timeout)

    class ImapTls(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            sock = connect(args, (self.host, self.port), timeout)
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)

    if args.implicit_tls:
        return ImapTls(*hostport(args.imap), ssl_context=unverified())
    return Imap(*hostport(args.imap))


def pop3_client(args):
    class Pop3(poplib.POP3):
        def _create_socket(self, timeout):
            return connect(args, (self.host, self.port), timeout)

    class Pop3Tls(poplib.POP3_SSL):
        def _create_socket(self, timeout):
            sock = connect(args, (self.host, self.port), timeout)
            return self.context.wrap_socket(sock, server_hostname=self.host)

    if args.implicit_tls:
        return Pop3Tls(*hostport(args.pop3), context=unverified())
    return Pop3(*hostport(args.pop3))


def smtp_client(args):
    class Smtp(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            return connect(args, (host, port), timeout)

    class SmtpTls(smtplib.SMTP_SSL):
        def _get_socket(self, host, port, timeout):
            sock = connect(args, (host, port), timeout)
            return self.context.wrap_socket(sock, server_hostname=host)

    if args.implicit_tls:
        return SmtpTls(*hostport(args.submission), context=unverified())
    return Smtp(*hostport(args.submission))


def imap_login(args):
    imap = imap_client(args)
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
    imap = imap_client(args)
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
    pop = pop3_client(args)
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
    pop = pop3_client(args)
    pop.user(args.user)
    try:
        pop.pass_(args.password)
    except poplib.error_proto as e:
        print(f"answer: {e}")
        check(pop.capa() is not None, "the session goes on after a refused login")
        return
    check(False, "login was refused")


def smtp_submit(args):
    smtp = smtp_client(args)
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


def imap_idle_long(args):
    """IDLE through the frontend: quiet for `--quiet` seconds, then mail
    arrives (EXISTS), then quiet until the backend's idle timeout ends the
    session with its own `* BYE`, which must come no sooner than
    `--bye-after` seconds."""
    imap = imap_client(args)
    if args.starttls:
        ok(imap.starttls(ssl_context=unverified()), "starttls")
    ok(imap.login(args.user, args.password), "login")
    before = int(ok(imap.select("INBOX"), "select")[0])
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    line = imap.readline()
    check(line.startswith(b"+"), f"idling: {line!r}")
    # select, not a read timeout: a file that timed out cannot be read again.
    readable, _, _ = select.select([imap.sock], [], [], args.quiet)
    check(not readable, f"silent for {args.quiet} s, and still up")
    with smtplib.SMTP(*hostport(args.smtp), source_address=("127.0.0.5", 0)) as smtp:
        smtp.sendmail("someone@remote.example", [args.to], f"Subject: {args.subject}\r\n\r\nnew mail\r\n")
    imap.sock.settimeout(DEADLINE)
    line = imap.readline()
    check(line.startswith(b"* ") and line.rstrip().endswith(b"EXISTS"), f"EXISTS while idling: {line!r}")
    check(int(line.split()[1]) == before + 1, "one more message")
    last = time.time()
    imap.sock.settimeout(args.bye_after + DEADLINE)
    line = imap.readline()
    quiet = time.time() - last
    check(line.startswith(b"* BYE"), f"the backend's goodbye: {line!r}")
    check(quiet >= args.bye_after, f"up for {quiet:.1f} s of silence, at least {args.bye_after}")


def busy(args):
    """Holds `--hold` connections to `--address` (each greeted), then
    opens one more and prints its first line as `answer: ...`; a refused
    one must then be closed."""
    address = hostport(args.address)
    held = []
    for n in range(args.hold):
        sock = connect(args, address, DEADLINE)
        sock.settimeout(DEADLINE)
        greeting = sock.makefile("rb").readline()
        check(greeting and not greeting.startswith((b"* BYE", b"-ERR", b"421")), f"connection {n + 1} greeted: {greeting!r}")
        held.append(sock)
    sock = connect(args, address, DEADLINE)
    sock.settimeout(DEADLINE)
    answer = sock.makefile("rb").readline().decode(errors="replace").rstrip()
    print(f"answer: {answer}")
    if answer.startswith(("* BYE", "-ERR", "421")):
        check(sock.recv(1) == b"", "closed after the refusal")
    for sock in held:
        sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--imap")
    p.add_argument("--pop3")
    p.add_argument("--submission")
    p.add_argument("--smtp")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--mechanism", default="login")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--min-messages", type=int, default=0)
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--sender")
    p.add_argument("--to")
    p.add_argument("--subject", default="hello")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--proxy-client", help="send a PROXY v2 header naming this ip:port")
    p.add_argument("--quiet", type=float, default=0)
    p.add_argument("--bye-after", type=float, default=0)
    p.add_argument("--address")
    p.add_argument("--hold", type=int, default=0)
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
        "imap-idle-long": imap_idle_long,
        "busy": busy,
    }[args.scenario](args)


if __name__ == "__main__":
    main()

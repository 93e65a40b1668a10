#!/usr/bin/env python3
"""Many real clients (imaplib, poplib, smtplib) against a cluster's
frontends at once, for tests/cluster_e2e.rs. Sub-commands:

  logins   every account logs in through every frontend by IMAP and/or
           POP3 and must see exactly its expected number of messages, each
           addressed to itself (its own mail only); or, for an account
           whose host is down, must get the protocol's temporary failure.
  send     one message per account through one frontend's SMTP.
  refused  connects from a given source address and says whether the
           server closed the connection without sending anything.

Accounts come as a JSON file: [{"name", "password", "expect"}], where
expect is a message count or "unavailable". Prints a JSON summary; exits
non-zero listing the failures (the first 20)."""
import argparse
import concurrent.futures
import imaplib
import json
import poplib
import smtplib
import socket
import sys
import time

TIMEOUT = 30


def hostport(value):
    host, port = value.rsplit(":", 1)
    return host, int(port)


def addressed_to(header_block, name):
    for line in header_block.splitlines():
        if line.lower().startswith("to:"):
            return line.split(":", 1)[1].strip() == f"<{name}>"
    return False


def imap_session(frontend, account):
    """Returns (count, wrong) or raises; wrong lists messages not for this account."""
    imap = imaplib.IMAP4(*hostport(frontend), timeout=TIMEOUT)
    try:
        imap.login(account["name"], account["password"])
        typ, data = imap.select("INBOX", readonly=True)
        if typ != "OK":
            raise RuntimeError(f"select: {typ} {data!r}")
        count = int(data[0])
        wrong = []
        if count:
            typ, data = imap.fetch(f"1:{count}", "(BODY.PEEK[HEADER.FIELDS (TO)])")
            headers = [part[1].decode(errors="replace") for part in data if isinstance(part, tuple)]
            if len(headers) != count:
                raise RuntimeError(f"fetch gave {len(headers)} of {count} messages")
            wrong = [h.strip() for h in headers if not addressed_to(h, account["name"])]
        return count, wrong
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def pop3_session(frontend, account):
    pop = poplib.POP3(*hostport(frontend), timeout=TIMEOUT)
    try:
        pop.user(account["name"])
        pop.pass_(account["password"])
        count, _ = pop.stat()
        wrong = []
        for n in range(1, count + 1):
            _, lines, _ = pop.top(n, 0)
            block = "\r\n".join(line.decode(errors="replace") for line in lines)
            if not addressed_to(block, account["name"]):
                wrong.append(block)
        return count, wrong
    finally:
        try:
            pop.quit()
        except (poplib.error_proto, OSError):
            pass


def expect_unavailable(protocol, frontend, account):
    """The temporary failure of an account whose host is down."""
    try:
        if protocol == "imap":
            imap_session(frontend, account)
        else:
            pop3_session(frontend, account)
    except (imaplib.IMAP4.error, poplib.error_proto) as e:
        text = str(e.args[0] if e.args else e)
        marker = "[UNAVAILABLE]" if protocol == "imap" else "-ERR [SYS/TEMP]"
        if marker in text:
            return None
        return f"wanted {marker}, got {text}"
    return "logged in although its host is down"


def check_one(protocol, frontend, account, wait):
    if account["expect"] == "unavailable":
        return expect_unavailable(protocol, frontend, account)
    session = imap_session if protocol == "imap" else pop3_session
    expect = account["expect"]
    deadline = time.time() + wait
    while True:
        try:
            count, wrong = session(frontend, account)
        except (imaplib.IMAP4.error, poplib.error_proto, OSError, RuntimeError) as e:
            count, wrong, error = None, [], f"{type(e).__name__}: {e}"
        else:
            error = None
        if wrong:
            return f"sees mail that is not its own: {wrong[:2]}"
        if count is not None and count > expect:
            return f"{count} messages, expected {expect} (duplicates?)"
        if count == expect:
            return None
        if time.time() > deadline:
            return error or f"{count} messages, expected {expect}"
        time.sleep(0.2)


def logins(args):
    accounts = json.load(open(args.accounts))
    jobs = []
    for frontend in args.frontend:
        imap, pop3 = frontend.split(",")
        for account in accounts:
            if "imap" in args.protocols:
                jobs.append(("imap", imap, account))
            if "pop3" in args.protocols:
                jobs.append(("pop3", pop3, account))
    started = time.time()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(check_one, p, f, a, args.wait): (p, f, a["name"]) for p, f, a in jobs}
        for future in concurrent.futures.as_completed(futures):
            problem = future.result()
            if problem:
                failures.append(f"{futures[future]}: {problem}")
    summary = {"sessions": len(jobs), "failures": len(failures), "seconds": round(time.time() - started, 2)}
    print(json.dumps(summary))
    for failure in failures[:20]:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures else 0)


def send(args):
    accounts = json.load(open(args.accounts))
    started = time.time()
    with smtplib.SMTP(*hostport(args.smtp), timeout=TIMEOUT) as smtp:
        smtp.ehlo("client.example")
        for account in accounts:
            name = account["name"]
            message = (
                f"From: <sender@remote.example>\r\nTo: <{name}>\r\n"
                f"Subject: {args.tag} for {name}\r\nMessage-ID: <{args.tag}.{name}>\r\n\r\nhello\r\n"
            )
            refused = smtp.sendmail("sender@remote.example", [name], message)
            if refused:
                print(f"refused: {refused}", file=sys.stderr)
                sys.exit(1)
    print(json.dumps({"sent": len(accounts), "seconds": round(time.time() - started, 2)}))


def refused(args):
    host, port = hostport(args.target)
    sock = socket.create_connection((host, port), timeout=TIMEOUT, source_address=(args.source, 0))
    sock.settimeout(args.wait)
    try:
        data = sock.recv(4096)
        print("closed" if data == b"" else f"data {data!r}")
    except ConnectionResetError:
        print("closed")
    except socket.timeout:
        print("open")
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("logins")
    p.add_argument("--accounts", required=True)
    p.add_argument("--frontend", action="append", required=True, help="IMAP,POP3 addresses of one frontend")
    p.add_argument("--protocols", default="imap,pop3")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for mail still on its way")
    p.set_defaults(run=logins)
    p = commands.add_parser("send")
    p.add_argument("--accounts", required=True)
    p.add_argument("--smtp", required=True)
    p.add_argument("--tag", required=True)
    p.set_defaults(run=send)
    p = commands.add_parser("refused")
    p.add_argument("--source", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--wait", type=float, default=3)
    p.set_defaults(run=refused)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

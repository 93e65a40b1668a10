#!/usr/bin/env python3
"""Real IMAP clients (imaplib) around a live account move, for
crates/rookery/tests/account_move.rs. Sub-commands:

  populate  APPENDs the test mailbox tree: folders (some subscribed),
            messages with Message-IDs, flags and internal dates, and
            prints the expected state as JSON.
  watch     logs in, selects INBOX, prints "ready", IDLEs until the server
            closes the session (BYE or EOF), prints "disconnected: ...",
            then logs in again (retrying while the move settles) and
            prints "reconnected: N" with INBOX's message count.
  churn     logs in, selects INBOX, prints "ready", then changes flags
            ($Moved) and expunges messages, one a few milliseconds, until
            the server closes the session; prints as JSON the Message-IDs
            whose change was confirmed, and the one left uncertain.
  verify    reads every folder (Message-IDs, flags, internal dates,
            subscriptions) and prints them as JSON; the test compares.
"""
import argparse
import imaplib
import json
import re
import sys
import time

TIMEOUT = 60


def hostport(value):
    host, port = value.rsplit(":", 1)
    return host, int(port)


def connect(args):
    host, port = hostport(args.imap)
    client = imaplib.IMAP4(host, port, timeout=TIMEOUT)
    client.login(args.user, args.password)
    return client


def ok(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit(f"{what}: {typ} {data}")
    return data


# Folder -> number of messages; flags by message number.
FOLDERS = {"INBOX": 160, "Work": 60, "Archive/2024": 50, "Lists/rust": 30}
UNSUBSCRIBED = "Lists/rust"
# Above the link's fetch batch (8 MiB asked, 16 MiB at most) and import
# part (16 MiB).
BIG_SIZE = 20 << 20


def flags_for(i):
    flags = []
    if i % 3 == 0:
        flags.append("\\Seen")
    if i % 5 == 0:
        flags.append("\\Flagged")
    if i % 7 == 0:
        flags.append("\\Answered")
    if i % 11 == 0:
        flags.append("$Label1")
    return flags


def populate(args):
    client = connect(args)
    # The special-use folders a new account gets: keep some, drop one, so
    # the move must copy the tree as it is, not as a new account has it.
    client.delete("Junk")
    expected = {}
    for folder, count in FOLDERS.items():
        if folder != "INBOX":
            ok(client.create(folder), f"CREATE {folder}")
            if folder != UNSUBSCRIBED:
                ok(client.subscribe(folder), f"SUBSCRIBE {folder}")
        expected[folder] = {}
        for i in range(count):
            msgid = f"<pop-{folder.replace('/', '.')}-{i}@move.test>"
            body = (
                f"From: sender@remote.example\r\nTo: {args.user}\r\nSubject: {folder} {i}\r\n"
                f"Message-ID: {msgid}\r\n\r\n" + ("line of text\r\n" * (i % 40 + 1))
            ).encode()
            flags = flags_for(i)
            date = imaplib.Time2Internaldate(1_600_000_000 + i * 3600)
            ok(client.append(folder, "(" + " ".join(flags) + ")", date, body), f"APPEND {folder}")
            expected[folder][msgid] = {"flags": sorted(flags), "date": 1_600_000_000 + i * 3600}
    # One message larger than a fetch batch and an import frame: it must
    # move in parts.
    big = (
        f"From: sender@remote.example\r\nSubject: big\r\nMessage-ID: <big@move.test>\r\n\r\n".encode()
        + b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n" * (BIG_SIZE // 65)
    )
    ok(client.append("Work", "(\\Seen)", imaplib.Time2Internaldate(1_700_000_000), big), "APPEND big")
    expected["Work"]["<big@move.test>"] = {"flags": ["\\Seen"], "date": 1_700_000_000, "size": len(big)}
    # Expunge a few, so the old UIDs have gaps the new host does not copy.
    ok(client.select("Work"), "SELECT Work")
    ok(client.uid("STORE", "1:5", "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
    ok(client.expunge(), "EXPUNGE")
    for i in range(5):
        del expected["Work"][f"<pop-Work-{i}@move.test>"]
    client.logout()
    print(json.dumps(expected))


def watch(args):
    client = connect(args)
    ok(client.select("INBOX"), "SELECT INBOX")
    client.send(b"w1 IDLE\r\n")
    line = client.readline()
    if not line.startswith(b"+"):
        raise SystemExit(f"IDLE refused: {line!r}")
    print("ready", flush=True)
    closed_by = "EOF"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            line = client.readline()
        except (OSError, imaplib.IMAP4.abort) as e:
            closed_by = f"error {e}"
            break
        if not line:
            break
        if line.startswith(b"* BYE"):
            closed_by = line.decode(errors="replace").strip()
            # The server closes after BYE; read to the end.
            try:
                while client.readline():
                    pass
            except (OSError, imaplib.IMAP4.abort):
                pass
            break
    print(f"disconnected: {closed_by}", flush=True)
    deadline = time.time() + 120
    last = None
    while time.time() < deadline:
        try:
            client = connect(args)
            data = ok(client.select("INBOX"), "SELECT INBOX")
            print(f"reconnected: {int(data[0])}", flush=True)
            client.logout()
            return
        except (OSError, imaplib.IMAP4.error, SystemExit) as e:
            last = e
            time.sleep(0.2)
    raise SystemExit(f"could not log in again: {last}")


def churn(args):
    client = connect(args)
    ok(client.select("INBOX"), "SELECT INBOX")
    print("ready", flush=True)
    done = {"flagged": [], "expunged": [], "uncertain": None}
    # INBOX's populated messages have UIDs 1..160 in order: flag from the
    # bottom, expunge from the top.
    count = FOLDERS["INBOX"]
    low, high = 1, count
    step = 0
    while low < high:
        flag = step % 2 == 0
        uid = low if flag else high
        msgid = f"<pop-INBOX-{uid - 1}@move.test>"
        done["uncertain"] = msgid
        try:
            if flag:
                typ, _ = client.uid("STORE", str(uid), "+FLAGS.SILENT", "($Moved)")
            else:
                typ, _ = client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
                if typ == "OK":
                    typ, _ = client.uid("EXPUNGE", str(uid))
        except (OSError, imaplib.IMAP4.abort):
            break
        if typ != "OK":
            # Refused (the account froze): the change did not happen,
            # except a \Deleted flag set before a refused EXPUNGE.
            if flag:
                done["uncertain"] = None
            break
        done["uncertain"] = None
        if flag:
            done["flagged"].append(msgid)
            low += 1
        else:
            done["expunged"].append(msgid)
            high -= 1
        step += 1
        time.sleep(0.005)
    print(json.dumps(done), flush=True)


FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def verify(args):
    client = connect(args)
    typ, listed = client.list()
    folders = []
    for line in listed:
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        folders.append(name)
    typ, lsub = client.lsub()
    subscribed = sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lsub if line)
    state = {"folders": sorted(folders), "subscribed": subscribed, "messages": {}}
    for folder in folders:
        data = ok(client.select(f'"{folder}"', readonly=True), f"SELECT {folder}")
        count = int(data[0])
        messages = []
        if count:
            data = ok(
                client.fetch("1:*", "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"), "FETCH"
            )
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta, header = item
                flags = sorted(f for f in FLAGS.search(meta).group(1).decode().split() if f != "\\Recent")
                date = INTERNALDATE.search(meta).group(1)
                date = int(time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "' + date + b'"')))
                size = int(SIZE.search(meta).group(1))
                msgid = header.decode(errors="replace").split(":", 1)[1].strip() if b":" in header else ""
                messages.append({"id": msgid, "flags": flags, "date": date, "size": size})
        state["messages"][folder] = messages
    client.logout()
    print(json.dumps(state))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["populate", "watch", "churn", "verify"])
    parser.add_argument("--imap", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    {"populate": populate, "watch": watch, "churn": churn, "verify": verify}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

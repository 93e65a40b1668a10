#!/usr/bin/env python3
"""A full two-way sync with mbsync (isync) against a running server: a local
Maildir with several folders and a few hundred messages (some flagged in
their Maildir info), some messages on the server too, a first sync, a check
that both sides agree message by message (Message-ID) and flag by flag,
then changes on both sides (new messages, flags, deletions, a new folder on
the server), a second sync and the same check.

The account given must be new. Exit status 0 when both syncs agreed; prints
what it checked, and mbsync's output when it failed (with MBSYNC_DEBUG=1 in
the environment mbsync runs with -Dn, so that output holds the IMAP traffic)."""
import argparse
import imaplib
import os
import re
import subprocess
import tempfile
import time

from checks import check

# Maildir info letters and the IMAP flags they stand for.
LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
FLAGS = {v: k for k, v in LETTERS.items()}

LOCAL_FOLDERS = {"INBOX": 110, "Work": 80, "Work/Projects": 60, "Lists": 90}
SERVER_FOLDERS = {"INBOX": 15, "Work": 10, "Remote": 20}


def ok(result, what):
    typ, data = result
    check(typ == "OK", f"{what} ({typ} {data!r})")
    return data


def message(msgid, subject):
    return (f"From: sender@example.com\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"Body of {subject}.\r\n").encode()


class Local:
    def __init__(self, root):
        self.root = root
        self.counter = 0

    def folder_dir(self, folder):
        if folder == "INBOX":
            return os.path.join(self.root, "inbox")
        return os.path.join(self.root, "mail", *folder.split("/"))

    def deliver(self, folder, msgid, letters=""):
        d = self.folder_dir(folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.counter += 1
        name = f"{int(time.time())}.{os.getpid()}_{self.counter}.test"
        if letters:
            path = os.path.join(d, "cur", f"{name}:2,{''.join(sorted(letters))}")
        else:
            path = os.path.join(d, "new", name)
        with open(path, "wb") as f:
            f.write(message(msgid, msgid))

    def folders(self):
        found = set()
        if os.path.isdir(os.path.join(self.folder_dir("INBOX"), "cur")):
            found.add("INBOX")
        base = os.path.join(self.root, "mail")
        for dirpath, dirnames, _ in os.walk(base):
            if "cur" in dirnames:
                found.add(os.path.relpath(dirpath, base).replace(os.sep, "/"))
            dirnames[:] = [d for d in dirnames if d not in ("cur", "new", "tmp")]
        return found

    def files(self, folder):
        """Message-ID -> (path, set of IMAP flags)."""
        out = {}
        d = self.folder_dir(folder)
        for sub in ("cur", "new"):
            for name in os.listdir(os.path.join(d, sub)):
                path = os.path.join(d, sub, name)
                with open(path, "rb") as f:
                    m = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>", f.read())
                assert m, path
                info = name.split(":2,", 1)[1] if ":2," in name else ""
                flags = {LETTERS[c] for c in info if c in LETTERS}
                msgid = m.group(1).decode()
                if msgid in out:
                    check(False, f"{msgid} once locally in {folder}")
                out[msgid] = (path, flags)
        return out

    def set_letters(self, path, letters):
        d, name = os.path.split(path)
        base = name.split(":2,", 1)[0]
        new = os.path.join(os.path.dirname(d), "cur", f"{base}:2,{''.join(sorted(letters))}")
        os.rename(path, new)


def append(imap, folder, flags, msgid):
    typ, data = imap.append(f'"{folder}"', f"({' '.join(sorted(flags))})", None, message(msgid, msgid))
    if typ != "OK":
        check(False, f"APPEND {msgid} to {folder} ({typ} {data!r})")


def server_folders(imap):
    names = set()
    for line in ok(imap.list(), "LIST"):
        m = re.match(rb'\((?P<attrs>[^)]*)\) (?P<delim>"[^"]*"|NIL) (?P<name>.+)$', line)
        name = m.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1]
        names.add(name)
    return names


def server_messages(imap, folder):
    """Message-ID -> (uid, set of flags)."""
    typ, data = imap.select(f'"{folder}"')
    check(typ == "OK", f"SELECT {folder}")
    out = {}
    if int(data[0]) == 0:
        return out
    data = ok(imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"), f"FETCH in {folder}")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
        flags = {f for f in flags if f in FLAGS}
        msgid = re.search(rb"<([^>]+)>", header).group(1).decode()
        if msgid in out:
            check(False, f"{msgid} once on the server in {folder}")
        out[msgid] = (uid, flags)
    return out


def agree(imap, local, expected, stage):
    """Both sides hold exactly `expected` (folder -> {msgid: flags})."""
    remote_names = server_folders(imap)
    local_names = local.folders()
    for folder, want in expected.items():
        check(folder in remote_names, f"{stage}: {folder} on the server")
        check(folder in local_names, f"{stage}: {folder} locally")
        srv = server_messages(imap, folder)
        loc = local.files(folder)
        check(set(srv) == set(want),
              f"{stage}: server {folder} holds the expected {len(want)} messages "
              f"(missing {sorted(set(want) - set(srv))[:5]}, extra {sorted(set(srv) - set(want))[:5]})")
        check(set(loc) == set(want),
              f"{stage}: local {folder} holds the expected {len(want)} messages "
              f"(missing {sorted(set(want) - set(loc))[:5]}, extra {sorted(set(loc) - set(want))[:5]})")
        bad = [(m, sorted(srv[m][1]), sorted(loc[m][1]), sorted(f)) for m, f in want.items()
               if srv[m][1] != f or loc[m][1] != f]
        check(not bad, f"{stage}: flags agree in {folder} (server, local, expected: {bad[:5]})")
    if imap.state == "SELECTED":
        imap.unselect()


def run_mbsync(rc, stage):
    started = time.monotonic()
    p = subprocess.run(["mbsync", "-V"] + (["-Dn"] if os.environ.get("MBSYNC_DEBUG") else []) + ["-a", "-c", rc], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(f"--- mbsync stdout\n{p.stdout}\n--- mbsync stderr\n{p.stderr}")
    for line in (p.stdout + p.stderr).splitlines():
        if re.search(r"(?i)warning|error|unexpected|bogus", line):
            print(f"mbsync said: {line}")
    check(p.returncode == 0, f"{stage}: mbsync exits 0 ({time.monotonic() - started:.1f} s)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imap", required=True, help="host:port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    host, port = args.imap.rsplit(":", 1)
    args.host, args.port = host, int(port)

    with tempfile.TemporaryDirectory() as root:
        local = Local(root)
        os.makedirs(os.path.join(root, "mail"))
        os.makedirs(os.path.join(root, "state"))
        rc = os.path.join(root, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount remote
Host {args.host}
Port {args.port}
User {args.user}
Pass {args.password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account remote

MaildirStore local
Path {root}/mail/
Inbox {root}/inbox
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState {root}/state/
""")

        expected = {}
        # Local messages: every 5th seen, every 7th flagged, every 11th answered.
        for folder, n in LOCAL_FOLDERS.items():
            want = expected.setdefault(folder, {})
            for i in range(n):
                letters = ("S" if i % 5 == 0 else "") + ("F" if i % 7 == 0 else "") + ("R" if i % 11 == 0 else "")
                msgid = f"local-{folder.replace('/', '-')}-{i}@test"
                local.deliver(folder, msgid, letters)
                want[msgid] = {LETTERS[c] for c in letters}

        imap = imaplib.IMAP4(args.host, args.port)
        ok(imap.login(args.user, args.password), "LOGIN")
        for folder, n in SERVER_FOLDERS.items():
            if folder not in server_folders(imap):
                ok(imap.create(f'"{folder}"'), f"CREATE {folder}")
            want = expected.setdefault(folder, {})
            for i in range(n):
                flags = ["\\Seen"] if i % 2 else []
                if i % 3 == 0:
                    flags.append("\\Flagged")
                msgid = f"server-{folder}-{i}@test"
                append(imap, folder, flags, msgid)
                want[msgid] = set(flags)
        print(f"local: {sum(LOCAL_FOLDERS.values())} messages, server: {sum(SERVER_FOLDERS.values())}")

        run_mbsync(rc, "first sync")
        agree(imap, local, expected, "after the first sync")

        # Changes on the local side: new messages, flags set and cleared,
        # some messages deleted.
        for i in range(5):
            msgid = f"local-new-Work-{i}@test"
            local.deliver("Work", msgid, "S" if i % 2 else "")
            expected["Work"][msgid] = {"\\Seen"} if i % 2 else set()
        files = local.files("Lists")
        for i in range(0, 20):
            msgid = f"local-Lists-{i}@test"
            path, flags = files[msgid]
            if i < 8:
                os.remove(path)
                del expected["Lists"][msgid]
            else:
                flags = (flags ^ {"\\Flagged"}) | {"\\Seen"}
                local.set_letters(path, {FLAGS[f] for f in flags})
                expected["Lists"][msgid] = flags
        files = local.files("Remote")
        path, _ = files["server-Remote-0@test"]
        os.remove(path)
        del expected["Remote"]["server-Remote-0@test"]

        # Changes on the server: appends, flags, deletions and a new folder.
        for folder in ("INBOX", "Work/Projects"):
            for i in range(4):
                msgid = f"server-new-{folder.replace('/', '-')}-{i}@test"
                append(imap, folder, ["\\Answered"] if i == 1 else [], msgid)
                expected[folder][msgid] = {"\\Answered"} if i == 1 else set()
        srv = server_messages(imap, "INBOX")
        for i in range(10):
            msgid = f"local-INBOX-{i}@test"
            uid = srv[msgid][0]
            if i < 4:
                ok(imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
                del expected["INBOX"][msgid]
            else:
                ok(imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Answered \\Seen)"), "STORE +FLAGS")
                expected["INBOX"][msgid] |= {"\\Answered", "\\Seen"}
        for i in range(3):
            msgid = f"server-INBOX-{i}@test"
            ok(imap.uid("STORE", str(srv[msgid][0]), "-FLAGS.SILENT", "(\\Flagged)"), "STORE -FLAGS")
            expected["INBOX"][msgid] -= {"\\Flagged"}
        ok(imap.expunge(), "EXPUNGE")
        imap.unselect()
        ok(imap.create('"Later"'), "CREATE Later")
        expected["Later"] = {}
        for i in range(3):
            msgid = f"server-Later-{i}@test"
            append(imap, "Later", ["\\Seen"], msgid)
            expected["Later"][msgid] = {"\\Seen"}

        run_mbsync(rc, "second sync")
        agree(imap, local, expected, "after the second sync")
        total = sum(len(v) for v in expected.values())
        print(f"{total} messages in {len(expected)} folders agree")

        run_mbsync(rc, "third sync (nothing to do)")
        agree(imap, local, expected, "after the third sync")
        imap.logout()
    print("mbsync sync passed")


if __name__ == "__main__":
    main()

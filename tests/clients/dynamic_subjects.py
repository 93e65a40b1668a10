"""Logs in over IMAP (imaplib) and prints the Subject of every message in
INBOX, one "subject: ..." line each. Exits 1 with the server's answer when
the login or a command fails. Used by the dynamic-cluster tests."""

import argparse
import imaplib
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imap", required=True, help="host:port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    host, port = args.imap.rsplit(":", 1)
    try:
        imap = imaplib.IMAP4(host, int(port), timeout=20)
        imap.login(args.user, args.password)
        status, data = imap.select("INBOX", readonly=True)
        if status != "OK":
            raise imaplib.IMAP4.error(f"SELECT: {data}")
        count = int(data[0])
        if count:
            status, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            if status != "OK":
                raise imaplib.IMAP4.error(f"FETCH: {data}")
            for item in data:
                if isinstance(item, tuple):
                    header = item[1].decode("utf-8", "replace").strip()
                    print("subject: " + header.split(":", 1)[1].strip())
        imap.logout()
    except (imaplib.IMAP4.error, OSError) as error:
        print(f"imap failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Every IMAP command the server has, driven by the imapclient package (not
imaplib's raw commands): STARTTLS, LOGIN, CAPABILITY, ID, ENABLE,
NAMESPACE, LIST (with SPECIAL-USE), LSUB, STATUS, CREATE, RENAME (INBOX
too), DELETE, SUBSCRIBE, UNSUBSCRIBE, SELECT, EXAMINE, UNSELECT, CLOSE,
APPEND, FETCH (FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE,
BODY[], BODY.PEEK[HEADER], BINARY), SEARCH, STORE, COPY, MOVE, EXPUNGE and
UID EXPUNGE, IDLE while a second connection appends, stores and expunges,
GETQUOTAROOT, NOOP, LOGOUT; and mailbox names beyond ASCII, which
imapclient sends and reads in modified UTF-7.

The account must be new. Exit status 0 when every step behaved; prints
what it checked."""
import argparse
import datetime
import ssl
import time

import imapclient
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError
from imapclient.imapclient import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, SENT, TRASH

from checks import check

MESSAGE = (
    b"From: Bob <bob@example.com>\r\n"
    b"To: Alice <alice@example.com>\r\n"
    b"Subject: imapclient first\r\n"
    b"Message-ID: <first@example.com>\r\n"
    b"\r\n"
    b"Hello from imapclient.\r\n"
)

MULTIPART = (
    b"From: Carol <carol@example.com>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: imapclient second\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"SGVsbG8sIHBhcnQgb25lLg==\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"\r\n"
    b"part two\r\n"
    b"--b1--\r\n"
)

# Beyond Latin-1, outside the BMP (a surrogate pair in UTF-16), and '&',
# which modified UTF-7 writes "&-".
UNICODE_PARENT = "Répertoire"
UNICODE_CHILD = "Répertoire/Отправленные 😀 & Co"
UNICODE_CHILD_WIRE = b"R&AOk-pertoire/&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1- &2D3eAA- &- Co"


def connect(args, tls=True):
    host, port = args.imap.rsplit(":", 1)
    client = IMAPClient(host, int(port), ssl=False, timeout=30)
    check(client.welcome.startswith(b"* OK"), f"greeting: {client.welcome!r}")
    if tls and client.has_capability("STARTTLS"):
        # The server's certificate is self-signed.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context)
        check("STARTTLS" not in [c.decode() for c in client.capabilities()], "STARTTLS gone after TLS")
    client.login(args.user, args.password)
    return client


def session_commands(client):
    caps = client.capabilities()
    for cap in (b"IMAP4REV1", b"IDLE", b"UIDPLUS", b"MOVE", b"UNSELECT", b"ENABLE", b"ID", b"NAMESPACE", b"QUOTA",
                b"LIST-EXTENDED", b"SPECIAL-USE", b"BINARY"):
        check(cap in caps, f"{cap.decode()} advertised")
    fields = client.id_({"name": "imapclient-test", "version": imapclient.__version__})
    # A parenthesised list of field/value pairs, parsed into a tuple of one tuple.
    fields = fields[0] if len(fields) == 1 and isinstance(fields[0], tuple) else fields
    server = dict(zip(fields[::2], fields[1::2]))
    check(server.get(b"name") == b"Rookery", f"ID names the server: {server}")
    check(client.enable("UTF8=ACCEPT") == [], "ENABLE of what the server lacks turns on nothing")
    namespace = client.namespace()
    check(namespace.personal == (("", "/"),) and namespace.other is None and namespace.shared is None,
          f"one personal namespace: {namespace}")
    check(client.noop()[0].startswith(b"NOOP"), "NOOP")
    roots, quotas = client.get_quota_root("INBOX")
    check(roots.mailbox == "INBOX" and roots.quota_roots == [] and quotas == [],
          f"no quota root without a limit: {roots} {quotas}")


def mailbox_commands(client):
    folders = {name: flags for flags, _, name in client.list_folders()}
    check("INBOX" in folders and b"\\HasNoChildren" in folders["INBOX"], f"LIST shows INBOX: {folders}")
    check(client.find_special_folder(SENT) == "Sent", "SPECIAL-USE finds Sent")
    check(client.find_special_folder(TRASH) == "Trash", "SPECIAL-USE finds Trash")
    try:
        client.xlist_folders()
        check(False, "XLIST is not offered")
    except CapabilityError:
        check(True, "XLIST is not advertised (SPECIAL-USE replaces it)")

    client.create_folder("Work/Projects")
    check(client.folder_exists("Work") and client.folder_exists("Work/Projects"), "CREATE with a superior")
    client.rename_folder("Work", "Play")
    names = [name for _, _, name in client.list_folders("Play/", "%")]
    check(names == ["Play/Projects"], f"RENAME moved the inferiors: {names}")
    client.subscribe_folder("Play/Projects")
    subscribed = [name for _, _, name in client.list_sub_folders()]
    check("Play/Projects" in subscribed and "INBOX" in subscribed, f"LSUB: {subscribed}")
    client.unsubscribe_folder("Play/Projects")
    check("Play/Projects" not in [n for _, _, n in client.list_sub_folders()], "UNSUBSCRIBE")
    client.delete_folder("Play/Projects")
    client.delete_folder("Play")
    check(not client.folder_exists("Play"), "DELETE")
    try:
        client.delete_folder("Nothing here")
        check(False, "deleting a missing mailbox fails")
    except IMAPClient.Error as e:
        check("NONEXISTENT" in str(e), f"deleting a missing mailbox is NO [NONEXISTENT]: {e}")


def unicode_names(client, args):
    """imapclient encodes names in modified UTF-7 on the way out and
    decodes them on the way in; the server stores UTF-8."""
    client.create_folder(UNICODE_CHILD)
    names = [name for _, _, name in client.list_folders("", "R*")]
    check(names == [UNICODE_PARENT, UNICODE_CHILD], f"LIST decodes to the names created: {names}")
    # The same LIST without imapclient's decoding: modified UTF-7 on the wire.
    client.folder_encode = False
    wire = [name for _, _, name in client.list_folders("", "R&AOk-pertoire/*")]
    client.folder_encode = True
    check(wire == [UNICODE_CHILD_WIRE], f"names on the wire are modified UTF-7: {wire}")
    # Wildcards match inside the encoded form.
    names = [name for _, _, name in client.list_folders(UNICODE_PARENT + "/", "*😀*")]
    check(names == [UNICODE_CHILD], f"LIST pattern with a non-ASCII character: {names}")
    status = client.folder_status(UNICODE_CHILD, ["MESSAGES", "UIDNEXT", "UNSEEN"])
    check(status[b"MESSAGES"] == 0 and status[b"UIDNEXT"] == 1, f"STATUS of a non-ASCII name: {status}")
    response = client.append(UNICODE_CHILD, MESSAGE, flags=[SEEN])
    check(b"APPENDUID" in response, f"APPEND to a non-ASCII name: {response!r}")
    selected = client.select_folder(UNICODE_CHILD, readonly=True)
    check(selected[b"EXISTS"] == 1 and selected[b"READ-ONLY"] == [b""], f"EXAMINE a non-ASCII name: {selected}")
    client.unselect_folder()
    client.subscribe_folder(UNICODE_CHILD)
    check(UNICODE_CHILD in [n for _, _, n in client.list_sub_folders("", "R*")], "LSUB decodes the name")
    renamed = "Ελληνικά/日本語"
    client.rename_folder(UNICODE_CHILD, renamed)
    names = [name for _, _, name in client.list_folders("", "*")]
    check(renamed in names and UNICODE_CHILD not in names, f"RENAME between non-ASCII names: {names}")
    check(client.folder_status(renamed, ["MESSAGES"])[b"MESSAGES"] == 1, "the message moved with it")

    # A client that has enabled IMAP4rev2 reads the same names in UTF-8.
    rev2 = connect(args, tls=False)
    rev2.folder_encode = False
    rev2.enable("IMAP4rev2")
    names = [name for _, _, name in rev2.list_folders("", "*")]
    check(renamed.encode() in names and UNICODE_PARENT.encode() in names, f"IMAP4rev2 lists UTF-8 names: {names}")
    rev2.logout()
    client.delete_folder(renamed)
    client.delete_folder("Ελληνικά")
    client.delete_folder(UNICODE_PARENT)
    check(not [n for _, _, n in client.list_folders("", "R*")], "non-ASCII names deleted")
    return renamed


def message_commands(client):
    date = datetime.datetime(2024, 2, 29, 12, 30, 15, tzinfo=datetime.timezone.utc)
    client.append("INBOX", MESSAGE, flags=[FLAGGED], msg_time=date)
    client.append("INBOX", MULTIPART)
    client.append("INBOX", MESSAGE, flags=[SEEN])
    selected = client.select_folder("INBOX")
    check(selected[b"EXISTS"] == 3 and b"READ-WRITE" in selected, f"SELECT INBOX: {selected}")
    check(DELETED in selected[b"PERMANENTFLAGS"], f"PERMANENTFLAGS: {selected}")
    uids = client.search("ALL")
    check(len(uids) == 3, f"SEARCH ALL: {uids}")
    first, second, third = uids

    data = client.fetch(uids, ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE"])
    check(data[first][b"FLAGS"] == (FLAGGED,), f"FLAGS: {data[first]}")
    internal = data[first][b"INTERNALDATE"]
    check(internal.replace(tzinfo=None) == date.replace(tzinfo=None) or internal.astimezone(datetime.timezone.utc)
          == date, f"INTERNALDATE kept from APPEND: {internal}")
    check(data[first][b"RFC822.SIZE"] == len(MESSAGE), f"RFC822.SIZE: {data[first]}")
    envelope = data[first][b"ENVELOPE"]
    check(envelope.subject == b"imapclient first" and envelope.message_id == b"<first@example.com>",
          f"ENVELOPE: {envelope}")
    check(envelope.from_[0].mailbox == b"bob" and envelope.from_[0].host == b"example.com", f"ENVELOPE from: {envelope}")
    structure = data[second][b"BODYSTRUCTURE"]
    check(structure.is_multipart and structure[1].lower() == b"mixed", f"BODYSTRUCTURE multipart: {structure}")
    types = [(part[0].lower(), part[1].lower()) for part in structure[0]]
    check(types == [(b"text", b"plain"), (b"application", b"octet-stream")], f"BODYSTRUCTURE parts: {structure}")

    body = client.fetch([first], ["BODY.PEEK[HEADER]"])[first]
    check(body[b"BODY[HEADER]"] == MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n", f"BODY.PEEK[HEADER]: {body}")
    check(SEEN not in client.get_flags([first])[first], "PEEK leaves \\Seen alone")
    body = client.fetch([first], ["BODY[]"])[first]
    check(body[b"BODY[]"] == MESSAGE, f"BODY[]: {body}")
    check(SEEN in client.get_flags([first])[first], "BODY[] sets \\Seen")
    binary = client.fetch([second], ["BINARY.PEEK[1]"])[second]
    check(binary[b"BINARY[1]"] == b"Hello, part one.", f"BINARY decodes base64: {binary}")

    check(client.search(["SUBJECT", "second"]) == [second], "SEARCH SUBJECT")
    check(client.search(["FLAGGED"]) == [first], "SEARCH FLAGGED")
    check(client.search(["UNSEEN"]) == [second], "SEARCH UNSEEN")
    check(client.search(["SEEN", "NOT", "FLAGGED"]) == [third], "SEARCH with NOT")

    flags = client.add_flags([second], [ANSWERED, b"$Label"])
    check(set(flags[second]) == {ANSWERED, b"$Label"}, f"STORE +FLAGS: {flags}")
    flags = client.remove_flags([second], [b"$Label"])
    check(flags[second] == (ANSWERED,), f"STORE -FLAGS: {flags}")
    flags = client.set_flags([second], [DRAFT])
    check(flags[second] == (DRAFT,), f"STORE FLAGS: {flags}")

    # imapclient returns nothing for COPY; what it did shows in Archive.
    client.copy([first, second], "Archive")
    client.move([third], "Junk")
    check(client.search("ALL") == [first, second], "MOVE took the message out")
    check(client.folder_status("Junk", ["MESSAGES"])[b"MESSAGES"] == 1, "MOVE put it in Junk")
    check(client.folder_status("Archive", ["MESSAGES"])[b"MESSAGES"] == 2, "COPY put two in Archive")

    # UID EXPUNGE removes only the deleted messages it names.
    client.add_flags([first, second], [DELETED])
    client.expunge([second])
    check(client.search("ALL") == [first], "UID EXPUNGE removed only the named message")
    text, responses = client.expunge()
    check((1, b"EXPUNGE") in responses, f"EXPUNGE reports what it removed: {text!r} {responses}")
    check(client.search("ALL") == [], "EXPUNGE removed the rest")

    # CLOSE expunges silently; UNSELECT does not.
    client.select_folder("Archive")
    client.add_flags(client.search("ALL")[:1], [DELETED])
    client.unselect_folder()
    check(client.folder_status("Archive", ["MESSAGES"])[b"MESSAGES"] == 2, "UNSELECT expunges nothing")
    client.select_folder("Archive")
    client.close_folder()
    check(client.folder_status("Archive", ["MESSAGES"])[b"MESSAGES"] == 1, "CLOSE expunged the deleted one")

    # RENAME INBOX moves its messages to the new name; INBOX stays, empty.
    client.append("INBOX", MESSAGE)
    client.rename_folder("INBOX", "Old Inbox")
    check(client.folder_status("Old Inbox", ["MESSAGES"])[b"MESSAGES"] == 1, "RENAME INBOX moved its messages")
    check(client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"] == 0, "INBOX is still there, empty")


def idle_until(client, wanted, what):
    """idle_check until a response satisfies `wanted`, within 10 s."""
    deadline = time.monotonic() + 10
    seen = []
    while time.monotonic() < deadline:
        for response in client.idle_check(timeout=max(0.1, deadline - time.monotonic())):
            seen.append(response)
            if wanted(response):
                check(True, f"IDLE saw {what}: {response}")
                return
    check(False, f"IDLE saw {what}: got only {seen}")


def idle_with_a_second_client(args):
    idler = connect(args)
    other = connect(args)
    idler.select_folder("INBOX")
    n_before = idler.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    idler.idle()

    other.append("INBOX", MESSAGE)
    idle_until(idler, lambda r: r[1] == b"EXISTS" and r[0] == n_before + 1, "EXISTS for an APPEND")

    other.select_folder("INBOX")
    uid = other.search("ALL")[-1]
    other.add_flags([uid], [FLAGGED])
    idle_until(idler, lambda r: r[1] == b"FETCH" and FLAGGED in dict(zip(r[2][::2], r[2][1::2]))
               .get(b"FLAGS", ()), "FETCH FLAGS for a STORE")

    other.add_flags([uid], [DELETED])
    other.expunge()
    idle_until(idler, lambda r: r[1] == b"EXPUNGE" and r[0] == n_before + 1, "EXPUNGE for an EXPUNGE")

    text, _ = idler.idle_done()
    check(text.startswith(b"IDLE terminated"), f"IDLE ends at DONE: {text!r}")
    check(idler.noop()[0].startswith(b"NOOP"), "the idler goes on after IDLE")
    other.logout()
    idler.logout()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--imap", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()

    client = connect(args)
    session_commands(client)
    mailbox_commands(client)
    unicode_names(client, args)
    message_commands(client)
    idle_with_a_second_client(args)
    bye = client.logout()
    # imapclient returns the text of the untagged BYE.
    check(bye == b"logging out", f"LOGOUT: {bye!r}")
    print("imapclient scenario passed")


if __name__ == "__main__":
    main()

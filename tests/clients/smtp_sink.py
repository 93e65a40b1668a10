#!/usr/bin/env python3
"""An SMTP sink for outbound tests, on aiosmtpd (PyPI): it keeps every
message it accepts as a file in --dir, and answers by recipient:

- local part starting with "perm": 550 5.1.1 (a permanent refusal)
- local part starting with "temp": 451 4.3.0 (try again later)
- anything else: accepted,

and 421 to every RCPT while the file <dir>/refuse-all exists, so that a
test can take the sink "down" and bring it back. Prints
"sink: listening on HOST:PORT" once ready; runs until killed."""
import argparse
import asyncio
import itertools
import os
import socket

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

counter = itertools.count()


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if os.path.exists(os.path.join(self.directory, "refuse-all")):
            return "421 4.3.2 sink is down"
        local = address.split("@", 1)[0].lower()
        if local.startswith("perm"):
            return "550 5.1.1 no such user here"
        if local.startswith("temp"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        number = next(counter)
        name = os.path.join(self.directory, f"msg-{os.getpid()}-{number:06d}.eml")
        header = f"X-Sink-From: <{envelope.mail_from}>\r\nX-Sink-To: {','.join(envelope.rcpt_tos)}\r\n"
        with open(name + ".tmp", "wb") as f:
            f.write(header.encode() + envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 kept"


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    port = args.port or free_port(args.host)
    handler = Sink(args.dir)
    controller = Controller(
        handler,
        hostname=args.host,
        port=port,
        server_kwargs={"decode_data": False},
        data_size_limit=64 << 20,
        enable_SMTPUTF8=True,
    )
    controller.start()
    print(f"sink: listening on {args.host}:{port}", flush=True)
    try:
        asyncio.new_event_loop().run_until_complete(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A throw-away SMTP server for oim-notify's tests, on Debian's python3-aiosmtpd.

Usage: smtp_server.py OUTDIR
Listens on 127.0.0.1 (kernel-chosen port, printed as "PORT <n>"), and writes every message
it accepts to OUTDIR/<n>.eml (raw bytes as received) with OUTDIR/<n>.json holding the
envelope ({"mail_from", "rcpt_tos"}); the .eml appears last, atomically (rename), and then
"MESSAGE <n>" is printed, so a test waits on its stdout rather than polling the directory.
"""
import asyncio
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".tmp", base + ".eml")
        print("MESSAGE", self.count, flush=True)
        return "250 Message accepted for delivery"


async def main(outdir):
    loop = asyncio.get_running_loop()
    handler = Handler(outdir)
    server = await loop.create_server(lambda: SMTP(handler, hostname="test.local"),
                                      host="127.0.0.1", port=0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

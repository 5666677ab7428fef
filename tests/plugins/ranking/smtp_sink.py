"""A real SMTP server process for the delivery tests: `python smtp_sink.py PORT OUTDIR`.

Each accepted message is written to OUTDIR as NNNN-<recipient>.eml; recipients starting with
"reject" are refused with 550. Prints "ready" once listening; stops when stdin closes.
"""

import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out: Path):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.count += 1
                target = self.out / f"{self.count:04d}-{rcpt}.eml"
                target.with_suffix(".part").write_bytes(envelope.original_content)
                target.with_suffix(".part").rename(target)
        return "250 Message accepted for delivery"


def main() -> None:
    port, out = int(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    controller = Controller(Handler(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # the test closes our stdin (or kills us) to stop the server
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

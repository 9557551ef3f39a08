"""A test SMTP server (aiosmtpd, Debian's python3-aiosmtpd) storing mail in a Maildir.

usage: smtp_sink.py PORT MAILDIR
Recipients tempfail@… are answered 451 (temporary) and reject@… 550 (permanent), so the
transport's classification can be tested against a real server. Runs until SIGTERM.
"""
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("tempfail@"):
            return "451 4.3.0 try again later"
        if address.startswith("reject@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    print("ready", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

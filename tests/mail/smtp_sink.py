"""A real SMTP server for the test suite (aiosmtpd): accepts every message and prints it.

Usage: smtp_sink.py [USER:PASSWORD]
With USER:PASSWORD the sink requires that login (AUTH PLAIN/LOGIN, allowed without TLS on
loopback) before it accepts mail.
Prints `listening PORT` once ready, then one JSON object per message received:
{"from": ..., "to": [...], "data": "<the message as sent>"}.
"""

import asyncio
import json
import socket
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    async def handle_DATA(self, server, session, envelope):
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 Message accepted"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def authenticator(expected):
    user, password = expected.split(":", 1)

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


async def main():
    port = free_port()
    login = {}
    if len(sys.argv) > 1:
        login = dict(
            authenticator=authenticator(sys.argv[1]), auth_required=True, auth_require_tls=False
        )
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, **login)
    controller.start()
    print(f"listening {port}", flush=True)
    # Until the test harness closes stdin (or kills the process).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    controller.stop()


asyncio.run(main())

"""A webhook receiver for the test suite: listens on 127.0.0.1:PORT, answers every POST with
200, and prints one JSON line per delivery: {"path", "headers", "body", "valid"} where
"valid" says whether X-Rampart-Signature is the HMAC-SHA256 of "{timestamp}.{body}" under
SECRET. Prints `listening PORT` once ready.

Usage: receiver.py PORT SECRET
"""

import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, SECRET = int(sys.argv[1]), sys.argv[2].encode()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        stamp = self.headers.get("x-rampart-timestamp", "")
        expected = "sha256=" + hmac.new(SECRET, f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
        given = self.headers.get("x-rampart-signature", "")
        print(
            json.dumps(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(body),
                    "valid": hmac.compare_digest(expected, given),
                }
            ),
            flush=True,
        )
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", PORT), Handler)
print(f"listening {PORT}", flush=True)
server.serve_forever()

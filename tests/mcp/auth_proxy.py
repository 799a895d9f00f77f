"""A pass-through HTTP proxy that adds a credential to every request.

The MCP conformance runner sends no Authorization header; Rampart's /mcp requires one. This
proxy forwards each request unchanged (method, path, body, and the Host and Origin headers, so
DNS-rebinding checks still see what the runner sent) to the upstream server, adding
`X-DreamFactory-API-Key`.

Usage: auth_proxy.py UPSTREAM_HOST:PORT API_KEY   (prints the port it listens on)
"""

import http.client
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM, KEY = sys.argv[1], sys.argv[2]
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-dreamfactory-api-key"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP:
                conn.putheader(name, value)
        conn.putheader("X-DreamFactory-API-Key", KEY)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        res = conn.getresponse()
        data = res.read()
        self.send_response(res.status)
        for name, value in res.getheaders():
            if name.lower() not in HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = forward

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()

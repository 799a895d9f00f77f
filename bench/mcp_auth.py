"""What MCP authorization costs per call: the latency of `query_rows` at /mcp with an OAuth
access token (verified at /mcp and again by the REST layer the tool calls, each time with
its grant checked) against the same call with an API key, on one running server, same role.

Usage: mcp_auth.py BASE_URL API_KEY CLIENT_ID LOGIN PASSWORD [CALLS]

Gets the access token as a remote agent would (authorization code + PKCE, the sign-in and
consent pages answered by form posts), then makes CALLS calls per credential (default 1000)
after 100 warm-up ones, in alternating blocks of 100 so drift hits both alike, one at a time
on one connection. Prints p50/p99 per credential and the p50 difference; the JSON of it is
the last line.
"""

import asyncio
import base64
import hashlib
import json
import re
import secrets
import sys
import time
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

BASE, KEY, CLIENT, LOGIN, PASSWORD = sys.argv[1:6]
CALLS = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
BLOCK, WARM = 100, 100
REDIRECT = "http://127.0.0.1/callback"
ARGS = {"table": "orders", "filter": "status = 'shipped'", "order": "id", "limit": 25}


def hidden(html, name):
    return re.search(r'name="%s" value="([^"]*)"' % name, html).group(1)


def access_token():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with httpx2.Client(base_url=BASE, follow_redirects=False) as browser:
        page = browser.get("/oauth/authorize", params={
            "response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
            "state": "bench", "code_challenge": challenge, "code_challenge_method": "S256",
            "resource": f"{BASE}/mcp", "scope": "mcp:read mcp:write"})
        consent = browser.post("/oauth/authorize/sign-in", data={
            "request": hidden(page.text, "request"), "login": LOGIN, "password": PASSWORD})
        done = browser.post("/oauth/authorize/consent", data={
            "request": hidden(consent.text, "request"), "decision": "allow"})
        code = parse_qs(urlparse(done.headers["location"]).query)["code"][0]
        t = browser.post("/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": CLIENT, "code_verifier": verifier, "resource": f"{BASE}/mcp"})
        return t.json()["access_token"]


async def main():
    token = access_token()
    samples = {"API key": [], "OAuth access token": []}
    headers = {"API key": {"X-DreamFactory-API-Key": KEY},
               "OAuth access token": {"Authorization": f"Bearer {token}"}}
    async with httpx2.AsyncClient(headers=headers["API key"]) as k, \
            httpx2.AsyncClient(headers=headers["OAuth access token"]) as o:
        async with streamable_http_client(f"{BASE}/mcp", http_client=k) as (kr, kw), \
                streamable_http_client(f"{BASE}/mcp", http_client=o) as (orr, ow):
            async with ClientSession(kr, kw) as ks, ClientSession(orr, ow) as os_:
                await ks.initialize()
                await os_.initialize()
                sessions = {"API key": ks, "OAuth access token": os_}
                done = 0
                while done < CALLS + WARM:
                    for name, s in sessions.items():
                        for i in range(BLOCK):
                            t = time.perf_counter()
                            r = await s.call_tool("query_rows", ARGS)
                            assert not r.is_error, r
                            if done + i >= WARM:
                                samples[name].append(time.perf_counter() - t)
                    done += BLOCK
    out = []
    for name, xs in samples.items():
        xs.sort()
        p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
        out.append({"credential": name, "p50_ms": round(p(0.5), 3), "p99_ms": round(p(0.99), 3), "calls": len(xs)})
    added = round(out[1]["p50_ms"] - out[0]["p50_ms"], 3)
    for r in out:
        print(f"{r['credential']:20} p50 {r['p50_ms']:8.3f} ms  p99 {r['p99_ms']:8.3f} ms  ({r['calls']} calls)")
    print(f"added by token verification (p50): {added:+.3f} ms per MCP call")
    print(json.dumps({"results": out, "added_p50_ms": added}))


asyncio.run(main())

"""Drives Rampart's /mcp as a remote agent that knows only its URL, with the official Python
SDK's OAuth client (`OAuthClientProvider`): discovery, authorization (the person's part —
sign-in and consent — done by plain form posts, as a browser would), token exchange, refresh,
and tool calls.

Usage: oauth_drive.py URL   (the MCP endpoint)
Environment:
  OAUTH_CLIENT_ID     a client registered at /api/v2/system/oauth_client (absent: the client
                      registers itself, when the server offers Dynamic Client Registration)
  OAUTH_REDIRECT_URI  its redirect URI (nothing listens there: the answer is read from the
                      consent's redirect)
  OAUTH_LOGIN, OAUTH_PASSWORD, OAUTH_METHOD (default "local")
  OAUTH_SCOPE         the scopes asked for (default "mcp:read mcp:write")
  OAUTH_READ_ONLY     "1": tick "read only" on the consent page
  OAUTH_MAX_CONSENTS  how many times the person agrees to sign in (default 1); a further
                      authorization request fails, as when nobody is at the browser
Reads the calls on stdin like drive.py and prints the same JSON, plus "consents" (how many
times the person was asked) and "tokens" (the last tokens the client held).
"""

import asyncio
import json
import os
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2

from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

sys.path.insert(0, os.path.dirname(__file__))
from drive import session  # noqa: E402


class Memory:
    def __init__(self, client_info):
        self.tokens = None
        self.client_info = client_info

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, info):
        self.client_info = info


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    if not m:
        raise RuntimeError("no %s field in the page: %s" % (name, html[:2000]))
    return m.group(1)


class Person:
    """The user at the browser: signs in and decides, by form posts."""

    def __init__(self):
        self.consents = 0
        self.answer = None
        self.max = int(os.environ.get("OAUTH_MAX_CONSENTS", "1"))

    async def visit(self, url):
        self.consents += 1
        if self.consents > self.max:
            raise RuntimeError("nobody is at the browser to sign in again")
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            page = await browser.get(url)
            if page.status_code != 200:
                raise RuntimeError("authorize answered %s: %s" % (page.status_code, page.text[:500]))
            form = {
                "request": hidden(page.text, "request"),
                "method": os.environ.get("OAUTH_METHOD", "local"),
                "login": os.environ["OAUTH_LOGIN"],
                "password": os.environ["OAUTH_PASSWORD"],
            }
            base = "%s://%s" % (urlparse(url).scheme, urlparse(url).netloc)
            consent = await browser.post(urljoin(base, "/oauth/authorize/sign-in"), data=form)
            if consent.status_code != 200:
                raise RuntimeError("sign-in answered %s: %s" % (consent.status_code, consent.text[:500]))
            decision = {"request": hidden(consent.text, "request"), "decision": "allow"}
            if os.environ.get("OAUTH_READ_ONLY") == "1":
                decision["read_only"] = "on"
            done = await browser.post(urljoin(base, "/oauth/authorize/consent"), data=decision)
            if done.status_code != 303:
                raise RuntimeError("consent answered %s: %s" % (done.status_code, done.text[:500]))
            query = parse_qs(urlparse(done.headers["location"]).query)
            self.answer = AuthorizationCodeResult(
                code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
            )

    async def callback(self):
        answer, self.answer = self.answer, None
        return answer


async def main():
    url = sys.argv[1]
    calls = json.load(sys.stdin)
    redirect = os.environ["OAUTH_REDIRECT_URI"]
    scope = os.environ.get("OAUTH_SCOPE", "mcp:read mcp:write")
    client_id = os.environ.get("OAUTH_CLIENT_ID")
    storage = Memory(
        OAuthClientInformationFull(
            client_id=client_id,
            redirect_uris=[redirect],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope=scope,
        )
        if client_id
        else None
    )
    person = Person()
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="Python agent",
            redirect_uris=[redirect],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope=scope,
        ),
        storage=storage,
        redirect_handler=person.visit,
        callback_handler=person.callback,
    )
    out = {}
    try:
        async with httpx2.AsyncClient(auth=auth) as http:
            async with streamable_http_client(url, http_client=http) as (read, write):
                out = await session(read, write, calls, out)
    except BaseException as e:  # the flow's failure is the result
        out["failure"] = repr(e)
    out["consents"] = person.consents
    out["tokens"] = storage.tokens.model_dump(mode="json") if storage.tokens else None
    json.dump(out, sys.stdout)


asyncio.run(main())

"""Drives an MCP server with the official Python SDK, as an agent would.

Usage: drive.py stdio COMMAND   (the server's environment is this process's)
       drive.py http URL         (headers from MCP_HEADERS, a JSON object)

Reads a JSON list of tool calls from stdin, `[{"tool": name, "args": {...}}, ...]`, and
prints one JSON object: the server's tools as listed, and each call's result, in order.
A call with `"cancel_after": seconds` is abandoned after that long (the SDK then sends
`notifications/cancelled`) and reports `{"cancelled": true}`; a step `{"wait_for": path}`
keeps the session open until that file exists (at most a minute).
"""

import asyncio
import json
import os
import sys

import anyio

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def session(read, write, calls, progress=None):
    """Runs the calls; `progress`, when given, is filled as the session goes (tools, then each
    result), so what happened before a failure that ends the session is still reported."""
    progress = {} if progress is None else progress
    async with ClientSession(read, write) as s:
        init = await s.initialize()
        tools = await s.list_tools()
        progress["tools"] = [dump(t) for t in tools.tools]
        results = progress.setdefault("results", [])
        for call in calls:
            if "sleep" in call:
                await anyio.sleep(call["sleep"])
                continue
            if "wait_for" in call:
                for _ in range(600):
                    if os.path.exists(call["wait_for"]):
                        break
                    await anyio.sleep(0.1)
                continue
            try:
                with anyio.move_on_after(call.get("cancel_after", 3600)) as scope:
                    r = await s.call_tool(call["tool"], call.get("args", {}))
                    results.append(dump(r))
                if scope.cancelled_caught:
                    results.append({"cancelled": True})
            except Exception as e:  # a protocol error, reported as such
                results.append({"protocolError": str(e)})
        return {
            "server": dump(init.server_info),
            "protocolVersion": init.protocol_version,
            "tools": [dump(t) for t in tools.tools],
            "results": results,
        }


async def main():
    mode, target = sys.argv[1], sys.argv[2]
    calls = json.load(sys.stdin)
    if mode == "stdio":
        params = StdioServerParameters(command=target, args=[], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            out = await session(read, write, calls)
    else:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        headers = json.loads(os.environ.get("MCP_HEADERS", "{}"))
        async with httpx2.AsyncClient(headers=headers) as http:
            async with streamable_http_client(target, http_client=http) as (read, write):
                out = await session(read, write, calls)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())

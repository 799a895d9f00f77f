"""What MCP costs over REST: the latency of `query_rows` (over Streamable HTTP at /mcp and
over stdio through rampart-mcp) against the REST GET it becomes, on one running server.

Usage: mcp_overhead.py BASE_URL API_KEY RAMPART_MCP_BINARY [CALLS]

Each path makes CALLS sequential requests (default 500) after 50 warm-up ones, one at a time
on one connection, and the p50/p99 latencies and the p50 overhead are printed, then written
as JSON to stdout's last line.
"""

import asyncio
import json
import os
import statistics
import sys
import time

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

BASE, KEY, BRIDGE = sys.argv[1], sys.argv[2], sys.argv[3]
CALLS = int(sys.argv[4]) if len(sys.argv) > 4 else 500
WARM = 50
ARGS = {"table": "orders", "filter": "status = 'shipped'", "order": "id", "limit": 25}
REST_URL = f"{BASE}/api/v2/db/_table/orders"
REST_PARAMS = {"filter": "status = 'shipped'", "order": "id", "limit": "25"}


def summary(name, samples):
    samples = sorted(samples)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000
    return {"path": name, "p50_ms": round(p(0.5), 3), "p99_ms": round(p(0.99), 3), "calls": len(samples)}


async def timed(n, call):
    out = []
    for i in range(n + WARM):
        t = time.perf_counter()
        await call()
        if i >= WARM:
            out.append(time.perf_counter() - t)
    return out


async def rest():
    async with httpx2.AsyncClient(headers={"X-DreamFactory-API-Key": KEY}) as http:
        async def call():
            r = await http.get(REST_URL, params=REST_PARAMS)
            assert r.status_code == 200, r.text
        return await timed(CALLS, call)


async def mcp_session(session):
    await session.initialize()

    async def call():
        r = await session.call_tool("query_rows", ARGS)
        assert not r.is_error, r
    return await timed(CALLS, call)


async def mcp_http():
    async with httpx2.AsyncClient(headers={"X-DreamFactory-API-Key": KEY}) as http:
        async with streamable_http_client(f"{BASE}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as s:
                return await mcp_session(s)


async def mcp_stdio():
    env = dict(os.environ, RAMPART_URL=BASE, RAMPART_API_KEY=KEY)
    params = StdioServerParameters(command=BRIDGE, args=[], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            return await mcp_session(s)


async def main():
    results = [summary("REST GET", await rest()),
               summary("MCP query_rows over HTTP (/mcp)", await mcp_http()),
               summary("MCP query_rows over stdio (rampart-mcp)", await mcp_stdio())]
    base = results[0]["p50_ms"]
    for r in results:
        r["p50_overhead_ms"] = round(r["p50_ms"] - base, 3)
        print(f"{r['path']:42} p50 {r['p50_ms']:8.3f} ms  p99 {r['p99_ms']:8.3f} ms  overhead p50 {r['p50_overhead_ms']:+.3f} ms")
    print(json.dumps(results))


asyncio.run(main())

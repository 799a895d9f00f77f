"""What the audit trail costs: the same build with and without auditing, in alternating rounds.

Starts each binary in turn on the bench database (`run.Rampart`), warms it, and drives GET by
id (or the filtered list, `--workload list`) with wrk; per round it records throughput and the
CPU the server spent per request, split by thread (request workers; the audit writer's thread,
which hashes and stores the events; the rest). CPU per request is steadier than throughput on
a shared machine. Prints a table, the change of the means, and the change paired round by round
with its 95 % confidence interval (the figure to trust on a machine whose speed drifts).

Usage: python3 bench/audit_cost.py --with BIN --without BIN [--rounds 6] [--duration 8]
       [--workload by-id|list]
(`bash bench/audit_cost.sh` builds both binaries first.)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

LUA = """
local i = 0
wrk.headers["X-DreamFactory-Api-Key"] = "%s"
request = function()
  i = i %% %d + 1
  return wrk.format(nil, "/api/v2/db/_table/orders/" .. i)
end
"""

# The filtered list of `run.py`: its query string is recorded in each event's `params`.
LIST = ("/api/v2/db/_table/orders?limit=25&order=id&filter="
        + urllib.parse.quote("(status = 'shipped') AND (total > 500)"))
LUA_LIST = """
wrk.headers["X-DreamFactory-Api-Key"] = "%s"
request = function()
  return wrk.format(nil, "%s")
end
"""


def cpu_by_thread(pid):
    """CPU ticks per thread name (summed), of a process."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{t}/comm").read().strip()
            fields = open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return out


def measure(binary, duration, orders, workload):
    server = run.Rampart(18401, binary)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            if workload == "list":
                f.write(LUA_LIST % (server.full, LIST))
            else:
                f.write(LUA % (server.full, min(orders, 10000)))
        base = server.base
        subprocess.run([*run.PIN, "wrk", "-t2", "-c32", "-d3s", "-s", f.name, base], check=True, capture_output=True)
        before = cpu_by_thread(server.proc.pid)
        out = run.sh(*run.PIN, "wrk", "-t2", "-c32", f"-d{duration}s", "-s", f.name, base)
        after = cpu_by_thread(server.proc.pid)
        os.unlink(f.name)
        requests = int([l for l in out.splitlines() if "requests in" in l][0].split()[0])
        tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
        threads = {k: (after[k] - before.get(k, 0)) * tick_us / requests for k in after}
        workers = sum(v for k, v in threads.items() if k.startswith("actix-rt"))
        # The audit writer's thread (and, in builds before it had its own SQLite connection,
        # sqlx's SQLite worker, where the events were stored).
        writer = sum(v for k, v in threads.items() if k.startswith(("rampart-audit", "sqlx-sqlite")))
        main = sum(v for k, v in threads.items() if not k.startswith(("actix", "sqlx-sqlite", "rampart-audit")))
        return {"rps": requests / duration, "workers_us": workers, "main_us": main, "writer_us": writer,
                "total_us": workers + main + writer}
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--with", dest="audited", required=True)
    ap.add_argument("--without", dest="unaudited", required=True)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--workload", choices=["by-id", "list"], default="by-id",
                    help="GET by id (default), or the filtered list of 25 with its query string")
    args = ap.parse_args()
    run.load_dataset(args.scale)
    orders = int(run.psql("SELECT count(*) FROM orders"))
    rows = {"with audit": [], "without": []}
    for r in range(args.rounds):
        for label, binary in (("with audit", args.audited), ("without", args.unaudited)):
            m = measure(binary, args.duration, orders, args.workload)
            rows[label].append(m)
            print(f"round {r + 1} {label:11} {m['rps']:8.0f} req/s  CPU/request: workers {m['workers_us']:6.1f} µs"
                  f"  writer {m['writer_us']:5.1f} µs  other {m['main_us']:5.1f} µs  total {m['total_us']:6.1f} µs",
                  file=sys.stderr)
    mean = {k: {f: sum(m[f] for m in v) / len(v) for f in v[0]} for k, v in rows.items()}
    a, b = mean["with audit"], mean["without"]
    summary = {"workload": args.workload, "rounds": args.rounds, "duration_s": args.duration, "mean": mean,
               "throughput_change_pct": round((a["rps"] / b["rps"] - 1) * 100, 1),
               "cpu_per_request_change_pct": round((a["total_us"] / b["total_us"] - 1) * 100, 1),
               "paired_throughput_change_pct": paired(rows, "rps"),
               "paired_cpu_per_request_change_pct": paired(rows, "total_us")}
    print(json.dumps(summary, indent=2))


# Two-sided 95 % quantiles of Student's t by degrees of freedom (beyond the table: ~1.96).
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
       12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04}


def paired(rows, field):
    """The change of each round (with against the without run right after it), as a mean with
    its 95 % confidence interval: on a shared machine throughput drifts by more than the
    effects measured here, and pairing the adjacent runs takes the drift out. An interval
    that contains 0 means no difference was detected."""
    changes = [(w[field] / o[field] - 1) * 100 for w, o in zip(rows["with audit"], rows["without"])]
    n = len(changes)
    mean = sum(changes) / n
    if n < 2:
        return {"mean": round(mean, 1), "per_round": [round(c, 1) for c in changes]}
    sd = (sum((c - mean) ** 2 for c in changes) / (n - 1)) ** 0.5
    t = next((v for k, v in sorted(T95.items()) if k >= n - 1), 1.96)
    half = t * sd / n ** 0.5
    return {"mean": round(mean, 1), "ci95": [round(mean - half, 1), round(mean + half, 1)],
            "per_round": [round(c, 1) for c in changes]}


if __name__ == "__main__":
    main()

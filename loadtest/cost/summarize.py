#!/usr/bin/env python3
"""Summarizes loadtest/cost/run.sh: CPU per request kind per process, throughput, latency.

    summarize.py CLK_TCK RUNS_FILE [DIR_WITH_COMMANDSTATS]

Runs labelled split1..split8 stop each journey after 1..8 steps; their CPU is solved for a cost
per request kind (CPU of run r = sum over kinds k of cost[k] * requests[r][k]). The run labelled
`all` is whole journeys against one process with every role.
"""
import os
import sys

KINDS = ["page", "join", "start", "answer", "finish", "board", "share", "click"]
PROCS = [("api_ticks", "baton quiz/relay/console"), ("archiver_ticks", "baton archiver"),
         ("redis_ticks", "redis-server"), ("pg_ticks", "postgres backends")]


def parse(path):
    runs = []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("RUN "):
            continue
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        runs.append(kv)
    return runs


def solve(a, b):
    """Least squares by the normal equations (square and well conditioned here)."""
    n = len(a[0])
    ata = [[sum(r[i] * r[j] for r in a) for j in range(n)] for i in range(n)]
    atb = [sum(r[i] * y for r, y in zip(a, b)) for i in range(n)]
    m = [row[:] + [y] for row, y in zip(ata, atb)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        if abs(m[c][c]) < 1e-12:
            raise SystemExit("cannot solve: a request kind never ran")
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def commandstats(path, top=12):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path, encoding="utf-8"):
        if not line.startswith("cmdstat_"):
            continue
        name, rest = line.strip()[8:].split(":", 1)
        kv = dict(p.split("=", 1) for p in rest.split(","))
        rows.append((name, int(kv["calls"]), int(kv["usec"]), float(kv["usec_per_call"])))
    rows.sort(key=lambda r: -r[2])
    return rows[:top]


def main():
    hz = float(sys.argv[1])
    runs = parse(sys.argv[2])
    for line in open(sys.argv[2], encoding="utf-8"):
        if line.startswith("IDLE"):
            w = line.split()
            before, after = [int(x) for x in w[6:10]], [int(x) for x in w[11:15]]
            print("idle: " + ", ".join(f"{name} {(b - a) / hz / 20 * 1000:.1f} ms CPU/s"
                                       for (_, name), a, b in zip(PROCS, before, after)))
    cdir = sys.argv[3] if len(sys.argv) > 3 else None
    print()
    print("== runs ==")
    print(f"{'run':<8} {'req':>8} {'req/s':>8} {'jour/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non2xx':>6} "
          + " ".join(f"{p[0].split('_')[0] + ' cpu s':>12}" for p in PROCS) + f" {'drain s':>7}")
    for r in runs:
        secs = int(r["duration_us"]) / 1e6
        print(f"{r['label']:<8} {int(r['requests']):>8} {int(r['requests']) / secs:>8.0f} "
              f"{int(r['journeys']) / secs:>7.1f} {int(r['p50_us']) / 1000:>7.1f} {int(r['p99_us']) / 1000:>7.1f} "
              f"{int(r['non2xx']):>6} "
              + " ".join(f"{int(r[p[0]]) / hz:>12.2f}" for p in PROCS) + f" {r['drain_s']:>7}")
    streams = [(int(r["stream_bytes"]), int(r["stream_entries"])) for r in runs if int(r.get("stream_entries", 0)) > 100]
    if streams:
        print("event stream entries: " + ", ".join(f"{b / e:.0f}" for b, e in streams)
              + " bytes each (MEMORY USAGE / XLEN right after each run)")
    split = [r for r in runs if r["label"].startswith("split")]
    if len(split) >= len(KINDS):
        a = [[float(r[k]) for k in KINDS] for r in split]
        print()
        print("== CPU per request, ms (solved over the split runs) ==")
        print(f"{'kind':<8} " + " ".join(f"{p[1]:>26}" for p in PROCS) + f" {'all four':>10}")
        costs = {}
        for p, _ in PROCS:
            costs[p] = solve(a, [int(r[p]) / hz * 1000 for r in split])
        for i, k in enumerate(KINDS):
            print(f"{k:<8} " + " ".join(f"{costs[p][i]:>26.3f}" for p, _ in PROCS)
                  + f" {sum(costs[p][i] for p, _ in PROCS):>10.3f}")
        # The last two kinds ran in the last two runs only: their split is the noisiest; together
        # they are as good as the others.
        both = {p: costs[p][KINDS.index("share")] + costs[p][KINDS.index("click")] for p, _ in PROCS}
        print(f"{'share+click':<8} " + " ".join(f"{both[p]:>26.3f}" for p, _ in PROCS)
              + f" {sum(both.values()):>10.3f}   (one of each)")
        per = {"page": 1, "join": 1, "start": 1, "answer": 9, "finish": 1, "board": 2, "share": 1, "click": 1}
        journey = {p: sum(costs[p][i] * per[k] for i, k in enumerate(KINDS)) for p, _ in PROCS}
        print(f"{'journey':<8} " + " ".join(f"{journey[p]:>26.2f}" for p, _ in PROCS)
              + f" {sum(journey.values()):>10.2f}   (1 page, 1 join, 1 start, 9 answers, 1 finish, 2 boards, 1 share, 1 click)")
        print("RESULT_COSTS " + " ".join(f"{p.split('_')[0]}.{k}={costs[p][i]:.4f}"
                                          for p, _ in PROCS for i, k in enumerate(KINDS)))
    for r in runs:
        if r["label"] == "bigagg":
            n = max(int(r["page"]), 1)
            secs = int(r["duration_us"]) / 1e6
            print()
            print(f"== campaign page with a city-sized counters hash: {n} page views, {n / secs:.0f}/s ==")
            for p, name in PROCS:
                print(f"{name:<26} {int(r[p]) / hz * 1000 / n:>8.3f} ms CPU per page view")
        if r["label"] == "all":
            j = max(int(r["journeys"]), 1)
            n = int(r["requests"])
            print()
            print(f"== one process, every role: {j} journeys, {n} requests ==")
            for p, name in PROCS:
                cpu = int(r[p]) / hz * 1000
                print(f"{name:<26} {cpu / j:>8.2f} ms CPU per journey, {cpu / n:>7.3f} ms per request")
    events_kinds = ["join", "start", "answer", "finish", "share", "click"]
    for r in runs:
        if r["label"] in ("split8", "all"):
            ev = sum(int(r[k]) - int(r.get("err_" + k, 0)) for k in events_kinds)
            if ev:
                print()
                print(f"== per event, run {r['label']}: {ev} events (join, start, answer, finish, share, click) ==")
                print(f"archiver CPU {int(r['archiver_ticks']) / hz * 1000 / ev:.3f} ms, postgres backends CPU "
                      f"{int(r['pg_ticks']) / hz * 1000 / ev:.3f} ms, WAL {int(r.get('wal_bytes', 0)) / ev:.0f} bytes "
                      f"(the whole server's WAL over the run)")
    if cdir:
        for label in ("split8", "all"):
            rows = commandstats(os.path.join(cdir, f"commandstats-{label}.txt"))
            if rows:
                print()
                print(f"== redis commandstats, run {label} (commands inside scripts are counted twice: "
                      f"alone and in the script's time) ==")
                for name, calls, usec, per_call in rows:
                    print(f"{name:<16} {calls:>9} calls {usec / 1e6:>8.2f} s {per_call:>8.2f} us/call")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Sizing on paper (docs/SCALING.md): measured costs x the seed campaign's traffic shape.

    python3 loadtest/cost/sizing.py

MEASURED holds what loadtest/cost/run.sh, loadtest/cost/redis_bench.sh and the hot_memory example
printed on the 2-core machine (copy new figures in after a new measurement); ASSUMED holds the
traffic shape and the operating targets. Everything printed is arithmetic on those two dicts.
"""
import math

MEASURED = {
    # CPU ms per request of the quiz/relay/console process and of redis-server (run.sh, solved
    # over the split runs). share and click were solved together (0.247 and 0.093 ms for one of
    # each) and are split evenly here.
    "api_ms": {"page": 0.213, "join": 0.140, "start": 0.267, "answer": 0.102, "finish": 0.129, "board": 0.175,
               "share": 0.124, "click": 0.124},
    "redis_ms": {"page": 0.019, "join": 0.057, "start": 0.099, "answer": 0.037, "finish": 0.123, "board": 0.066,
                 "share": 0.047, "click": 0.047},
    # The archiver process and the PostgreSQL backends, per event (run.sh, split8).
    "archiver_ms_per_event": 0.040,
    "pg_ms_per_event": 0.75,
    "wal_bytes_per_event": 3000,      # the whole server's WAL over the run: an upper bound
    "pg_bytes_per_event": 1360,       # database size / events stored (1.86 GB / 1.37 M), indexes included
    # Events/s the archiver applied while draining after a run (split8: 160,509 left when wrk
    # stopped, 154 s to drain). Batches are applied one at a time (LOCK TABLE events), so this is
    # the ceiling whatever the number of archivers.
    "serial_archive_events_per_s": 1040,
    # One campaign page view with a city-sized counters hash (12,608 fields) in one shard
    # (run.sh, bigagg): baton and Redis CPU. It grows with --redis-shards (one HGETALL per shard).
    "page_bigagg_api_ms": 15.8,
    "page_bigagg_redis_ms": 3.96,
    # Redis memory (hot_memory, 2.5 M participants, used_memory after / participants).
    "bytes_per_participant_single": 1573.5,
    "bytes_per_participant_cluster": 1597.7,
    "board_bytes_per_entry": 133,     # the 2.12 M-member score board: MEMORY USAGE / ZCARD
    "attempt_bytes": 3582,            # a finished attempt's hash (run.sh: MEMORY USAGE, 300 sampled)
    "stream_bytes_per_event": 480,    # (run.sh: MEMORY USAGE / XLEN after the runs)
    # Redis CPU µs per command on a 25 M-member sorted set (redis_bench.sh MEMBERS=25000000; on
    # 2.5 M members: 12.2, 11.7, 5.9, 11.6).
    "zadd_gt_us": 15.7,
    "zrevrank_us": 14.8,
    "zcard_us": 6.1,
    "top20_us": 12.3,
}

ASSUMED = {
    "days": 10,
    # Requests per participant over the campaign.
    "per_participant": {"page": 2, "join": 1, "start": 1.5, "answer": 15, "finish": 1.5, "board": 3, "share": 1,
                        "click": 1},
    "with_best": 0.85,                # participants with a finished attempt (on the boards)
    "peak_day": 2.0,                  # the busiest day has twice the average day's participants
    "peak_hour": 3.0,                 # its evening peak hour three times that day's average hour
    "flash_share": 0.08,              # a district of 8% of the participants (200k of 2.5 M) told to join
    "flash_first_15min": 0.5,         # within an hour, half of them in the first 15 minutes
    "api_overhead": 1.3,              # info-level logs, metrics scrapes, bigger pages than the demo's
    "redis_overhead": 1.25,           # many pods' connections pipeline less than the one measured
    "pod_vcpu": 2,
    "pod_target": 0.6,                # HPA target: 60% CPU
    "redis_target": 0.6,              # a Redis master's one core at most 60% busy
    "pg_target": 0.7,
    "backlog_minutes": 10,            # unarchived events to survive at peak (archiver or SQL down)
    "redis_data_per_master_gb": 12,   # a master's dataset, small enough for quick full syncs
    "memory_headroom": 1.5,           # fragmentation, fork copy-on-write, client buffers
    "shards_per_master": 4,           # --redis-shards: hash tags per master, so load spreads evenly
}

EVENTS = ["join", "start", "answer", "finish", "share", "click"]
SIZES = [2_500_000, 25_000_000, 100_000_000]


def rates(n):
    a = ASSUMED
    avg = n / (a["days"] * 86400)
    evening = avg * a["peak_day"] * a["peak_hour"]
    flash = n * a["flash_share"] * a["flash_first_15min"] / 900
    return avg, evening, flash, evening + flash


def redis_plan(n):
    """Redis data bytes, masters by CPU and by memory, masters, --redis-shards."""
    m, a = MEASURED, ASSUMED
    per = a["per_participant"]
    pk = rates(n)[3]
    redis_pp = sum(per[k] * m["redis_ms"][k] for k in per) * a["redis_overhead"]
    events_pp = sum(per[k] for k in EVENTS)
    lasting = n * m["bytes_per_participant_cluster"]
    attempts = n / a["days"] * a["peak_day"] * per["start"] * m["attempt_bytes"]
    backlog = pk * events_pp * a["backlog_minutes"] * 60 * m["stream_bytes_per_event"]
    data = lasting + attempts + backlog
    by_cpu = max(1, math.ceil(pk * redis_pp / 1000 / a["redis_target"]))
    by_mem = max(1, math.ceil(data / (a["redis_data_per_master_gb"] * 2**30)))
    masters = max(by_cpu, by_mem)
    shards = 1 if masters == 1 else 2 ** math.ceil(math.log2(masters * a["shards_per_master"]))
    return {"lasting": lasting, "attempts": attempts, "backlog": backlog, "data": data, "by_cpu": by_cpu,
            "by_mem": by_mem, "masters": masters, "shards": shards}


def label(n):
    return f"{n / 1e6:g} M"


def gib(b):
    return f"{b / 2**30:,.1f} GiB" if b < 100 * 2**30 else f"{b / 2**30:,.0f} GiB"


def main():
    m, a = MEASURED, ASSUMED
    per = a["per_participant"]
    kinds = list(per)
    events_pp = sum(per[k] for k in EVENTS)
    api_pp = sum(per[k] * m["api_ms"][k] for k in kinds) * a["api_overhead"]
    redis_pp = sum(per[k] * m["redis_ms"][k] for k in kinds) * a["redis_overhead"]
    arch_pp = events_pp * m["archiver_ms_per_event"]
    pg_pp = events_pp * m["pg_ms_per_event"]
    print(f"per participant: {sum(per.values()):g} requests, {events_pp:g} events; CPU: baton {api_pp:.2f} ms "
          f"(x{a['api_overhead']} overhead), archiver {arch_pp:.2f} ms, Redis {redis_pp:.2f} ms "
          f"(x{a['redis_overhead']}), PostgreSQL {pg_pp:.1f} ms")
    print()
    print("### Arrivals (joins/s) and requests/s at the design peak")
    print()
    print("| participants | average | evening peak | flash crowd | design peak | requests/s | "
          + " | ".join(kinds) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(kinds))
    for n in SIZES:
        avg, ev, fl, pk = rates(n)
        print(f"| {label(n)} | {avg:,.1f} | {ev:,.0f} | {fl:,.0f} | {pk:,.0f} | {pk * sum(per.values()):,.0f} | "
              + " | ".join(f"{pk * per[k]:,.0f}" for k in kinds) + " |")
    print()
    print("### Compute at the design peak")
    print()
    print("| participants | baton cores | baton pods (2 vCPU, 60%) | archiver cores | Redis cores | "
          "Redis masters by CPU | PostgreSQL events/s | PostgreSQL cores (70%) | WAL MB/s (upper bound) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        pk = rates(n)[3]
        pod = a["pod_vcpu"] * a["pod_target"]
        cores = pk * api_pp / 1000
        ev = pk * events_pp
        print(f"| {label(n)} | {cores:,.1f} | {max(2, math.ceil(cores / pod))} | {pk * arch_pp / 1000:,.1f} | "
              f"{pk * redis_pp / 1000:,.2f} | {max(1, math.ceil(pk * redis_pp / 1000 / a['redis_target']))} | "
              f"{ev:,.0f} | {ev * m['pg_ms_per_event'] / 1000 / a['pg_target']:,.0f} | "
              f"{ev * m['wal_bytes_per_event'] / 2**20:,.0f} |")
    print()
    print("### Redis memory")
    print()
    print("| participants | lasting state | attempts kept 24 h | stream backlog (10 min of peak) | data | "
          "with replicas x2 and headroom x1.5 | masters (CPU, memory) | --redis-shards | score board key |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        r = redis_plan(n)
        board = n * a["with_best"] * m["board_bytes_per_entry"]
        print(f"| {label(n)} | {gib(r['lasting'])} | {gib(r['attempts'])} | {gib(r['backlog'])} | {gib(r['data'])} | "
              f"{gib(r['data'] * 2 * a['memory_headroom'])} | {r['masters']} ({r['by_cpu']}, {r['by_mem']}) | "
              f"{r['shards']} | {gib(board)} |")
    print()
    print("### PostgreSQL: storage, and the backlog if sized for the evening peak only")
    print()
    print("| participants | events | storage | cores for the evening peak (70%) | flash-crowd backlog | "
          "its Redis memory | drained in |")
    print("|---|---|---|---|---|---|---|")
    for n in SIZES:
        avg, ev, fl, pk = rates(n)
        cap = ev * events_pp / a["pg_target"]          # events/s the evening-peak sizing applies
        excess = max(0.0, pk * events_pp - cap)        # during the flash crowd's first 15 minutes
        backlog = excess * 900
        spare = cap - ev * events_pp
        print(f"| {label(n)} | {n * events_pp / 1e6:,.0f} M | {gib(n * events_pp * m['pg_bytes_per_event'])} | "
              f"{ev * events_pp * m['pg_ms_per_event'] / 1000 / a['pg_target']:,.1f} | {backlog / 1e6:,.1f} M events | "
              f"{gib(backlog * m['stream_bytes_per_event'])} | {backlog / spare / 3600:,.1f} h |")
    print()
    print("### Archiving one batch at a time (as of 35ab314): the ceiling")
    print()
    cap = m["serial_archive_events_per_s"]
    print(f"| participants | design-peak events/s ÷ {cap:,} | evening-peak events/s ÷ {cap:,} | "
          f"peak-day events ÷ a day at {cap:,}/s | flash-crowd backlog | drained in |")
    print("|---|---|---|---|---|---|")
    for n in SIZES:
        avg, ev, fl, pk = rates(n)
        day = n / a["days"] * a["peak_day"] * events_pp
        backlog = max(0.0, pk * events_pp - cap) * 900
        spare = cap - ev * events_pp
        drain = f"{backlog / spare / 60:,.0f} min" if spare > 0 else "never (evening peak above the ceiling)"
        print(f"| {label(n)} | {pk * events_pp / cap:,.1f}x | {ev * events_pp / cap:,.2f}x | "
              f"{day / (cap * 86400):,.2f}x | {backlog / 1e6:,.1f} M events ({gib(backlog * m['stream_bytes_per_event'])}) | "
              f"{drain} |")
    print(f"evening peak reaches the ceiling at {cap * a['days'] * 86400 / (a['peak_day'] * a['peak_hour'] * events_pp) / 1e6:,.1f} M "
          f"participants; the peak day's events fill whole days at {cap * 86400 * a['days'] / (a['peak_day'] * events_pp) / 1e6:,.1f} M")
    print()
    print("### The campaign page reads every shard's counters hash (as of 35ab314)")
    print()
    print("| participants | page views/s | shards | baton cores | Redis cores |")
    print("|---|---|---|---|---|")
    for n in SIZES:
        pk = rates(n)[3]
        shards = redis_plan(n)["shards"]
        pv = pk * per["page"]
        print(f"| {label(n)} | {pv:,.0f} | {shards} | {pv * shards * m['page_bigagg_api_ms'] / 1000:,.0f} | "
              f"{pv * shards * m['page_bigagg_redis_ms'] / 1000:,.1f} |")
    print()
    print("### The score board: one sorted set, one Redis core")
    print()
    print("| participants | finishes/s | top-20 reads/s | members | core share (ZADD GT + ZREVRANK + ZCARD a "
          "finish, ZREVRANGE + ZCARD a read) | finishes/s at 60% of a core, no reads |")
    print("|---|---|---|---|---|---|")
    for n in SIZES:
        pk = rates(n)[3]
        f = pk * per["finish"]
        r = pk * per["board"] / 2   # half the board reads are the global top 20
        fin_us = m["zadd_gt_us"] + m["zrevrank_us"] + m["zcard_us"]
        us = f * fin_us + r * (m["top20_us"] + m["zcard_us"])
        print(f"| {label(n)} | {f:,.0f} | {r:,.0f} | {n * a['with_best'] / 1e6:,.1f} M | {us / 1e6:.0%} | "
              f"{0.6e6 / fin_us:,.0f} |")


if __name__ == "__main__":
    main()

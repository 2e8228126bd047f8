#!/usr/bin/env python3
"""Sizing on paper (docs/SCALING.md): measured costs x the seed campaign's traffic shape.

    python3 loadtest/cost/sizing.py

MEASURED holds what loadtest/cost/run.sh, loadtest/cost/redis_bench.sh and the hot_memory example
printed on the 2-core machine (copy new figures in after a new measurement); ASSUMED holds the
traffic shape and the operating targets. Everything printed is arithmetic on those two dicts.
"""
import math

MEASURED = {
    # CPU ms per request of the quiz/relay/console process and of redis-server (run.sh at 34b8351,
    # results/run-34b8351.txt: RESULT_COSTS, solved over the split runs). The machine was slower
    # that day (the same EXISTS took 2.90 µs inside Redis against 2.21 at 35ab314, +31%), so these
    # err high; EARLIER below holds the 35ab314 figures. share and click ran in the last two runs
    # only and were solved together (-0.157 and -0.056 ms for one of each: noise around a small
    # cost, which the finish and board figures absorb; the sum over a journey is what holds) and
    # are split evenly here.
    "api_ms": {"page": 0.112, "join": 0.234, "start": 0.328, "answer": 0.114, "finish": 0.464, "board": 0.322,
               "share": -0.0785, "click": -0.0785},
    "redis_ms": {"page": 0.011, "join": 0.100, "start": 0.132, "answer": 0.047, "finish": 0.286, "board": 0.131,
                 "share": -0.028, "click": -0.028},
    # The archiver process and the PostgreSQL backends, per event (run.sh at 34b8351, split8; the
    # database analyzed every minute: 0.040 and 0.75 ms at 35ab314, without statistics).
    "archiver_ms_per_event": 0.048,
    "pg_ms_per_event": 0.192,
    "wal_bytes_per_event": 3030,      # the whole server's WAL over the run: an upper bound
    "pg_bytes_per_event": 1143,       # database size / events stored (1.24 GB / 1.09 M), indexes included
    # Events/s the archiver applied while draining after a run (split8: 122,457 in the streams when
    # wrk stopped, 64 s to drain; split2..split8 drained at 1,514-2,112/s). Batches are applied one
    # at a time (LOCK TABLE events), so this is the ceiling whatever the number of archivers.
    "serial_archive_events_per_s": 1913,
    # The campaign page with a city-sized counters hash in one shard (run.sh at 34b8351, bigagg):
    # baton and Redis CPU per view. It reads the campaign-wide counters only, one HMGET per shard;
    # on a cluster each shard's HMGET is a pipeline of its own (Batch: one per slot).
    "page_bigagg_api_ms": 0.135,
    "page_bigagg_redis_ms": 0.018,
    "hmget_us": 3.3,                  # an HMGET's own time inside Redis (INFO commandstats, split8)
    # One shard's city-sized counters hash (12,608 fields) read whole, HGETALL and parsing: the
    # campaign page at 35ab314 (bigagg), which did what HotStore::aggregates still does for the
    # regions and units boards (once per 2 s per campaign and process, StatsCache::aggregates).
    "aggregates_api_ms": 15.8,
    "aggregates_redis_ms": 3.96,
    # Redis memory (hot_memory, 2.5 M participants, used_memory after / participants), the
    # participant hash a listpack (docs/performance/bench-2/hot_memory.txt). Cluster mode was
    # measured before that fix only (1,597.7 against 1,573.5 single): the same 24.2 B added here.
    "bytes_per_participant_single": 1087.5,
    "bytes_per_participant_cluster": 1111.7,
    "board_bytes_per_entry": 133,     # the 2.12 M-member score board: MEMORY USAGE / ZCARD
    "attempt_bytes": 3572,            # a finished attempt's hash (run.sh: MEMORY USAGE, 300 sampled)
    "stream_bytes_per_event": 480,    # (run.sh: MEMORY USAGE / XLEN after the runs split4..split8)
    # Redis CPU µs per command on a 25 M-member sorted set (redis_bench.sh MEMBERS=25000000; on
    # 2.5 M members: 12.2, 11.7, 5.9, 11.6).
    "zadd_gt_us": 15.7,
    "zrevrank_us": 14.8,
    "zcard_us": 6.1,
    "top20_us": 12.3,
}

# The per-request figures of run.sh at 35ab314 (results/run-35ab314.txt), on a faster day and an
# older build (the page read every counter; around=me read 25 fewer entries on each side): for
# comparison.
EARLIER = {
    "api_ms": {"page": 0.213, "join": 0.140, "start": 0.267, "answer": 0.102, "finish": 0.129, "board": 0.175,
               "share": 0.124, "click": 0.124},
    "redis_ms": {"page": 0.019, "join": 0.057, "start": 0.099, "answer": 0.037, "finish": 0.123, "board": 0.066,
                 "share": 0.047, "click": 0.047},
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
    "aggregates_every_s": 2,          # StatsCache::aggregates' reading, taken in every pod (the
                                      # regions and units boards viewed at least once per 2 s)
}

EVENTS = ["join", "start", "answer", "finish", "share", "click"]
SIZES = [2_500_000, 25_000_000, 100_000_000]


def rates(n):
    a = ASSUMED
    avg = n / (a["days"] * 86400)
    evening = avg * a["peak_day"] * a["peak_hour"]
    flash = n * a["flash_share"] * a["flash_first_15min"] / 900
    return avg, evening, flash, evening + flash


def cpu_pp(costs):
    """Baton and Redis CPU ms per participant, overheads included, from per-request costs."""
    a = ASSUMED
    per = a["per_participant"]
    api = sum(per[k] * costs["api_ms"][k] for k in per) * a["api_overhead"]
    redis = sum(per[k] * costs["redis_ms"][k] for k in per) * a["redis_overhead"]
    return api, redis


def pods(cores):
    return max(2, math.ceil(cores / (ASSUMED["pod_vcpu"] * ASSUMED["pod_target"])))


def redis_plan(n):
    """Redis data bytes, masters by CPU and by memory, masters, --redis-shards."""
    m, a = MEASURED, ASSUMED
    per = a["per_participant"]
    pk = rates(n)[3]
    redis_pp = cpu_pp(m)[1]
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


def sig(x):
    """Two significant figures, for cores that range from thousandths to tens."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.2g}"


def label(n):
    return f"{n / 1e6:g} M"


def gib(b):
    return f"{b / 2**30:,.1f} GiB" if b < 100 * 2**30 else f"{b / 2**30:,.0f} GiB"


def main():
    m, a = MEASURED, ASSUMED
    per = a["per_participant"]
    kinds = list(per)
    events_pp = sum(per[k] for k in EVENTS)
    api_pp, redis_pp = cpu_pp(m)
    arch_pp = events_pp * m["archiver_ms_per_event"]
    pg_pp = events_pp * m["pg_ms_per_event"]
    total_pp = api_pp + redis_pp + arch_pp + pg_pp
    print(f"per participant: {sum(per.values()):g} requests, {events_pp:g} events; CPU: baton {api_pp:.2f} ms "
          f"(x{a['api_overhead']} overhead), archiver {arch_pp:.2f} ms, Redis {redis_pp:.2f} ms "
          f"(x{a['redis_overhead']}), PostgreSQL {pg_pp:.2f} ms ({pg_pp / total_pp:.0%} of {total_pp:.1f} ms)")
    e_api, e_redis = cpu_pp(EARLIER)
    pk = rates(SIZES[-1])[3]
    print(f"with the 35ab314 baton and Redis figures (EARLIER): baton {e_api:.2f} ms, Redis {e_redis:.2f} ms; "
          f"at {label(SIZES[-1])}: {pk * e_api / 1000:,.1f} baton cores -> {pods(pk * e_api / 1000)} pods, "
          f"{pk * e_redis / 1000:,.2f} Redis cores -> {math.ceil(pk * e_redis / 1000 / a['redis_target'])} masters by CPU")
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
        cores = pk * api_pp / 1000
        ev = pk * events_pp
        print(f"| {label(n)} | {cores:,.1f} | {pods(cores)} | {pk * arch_pp / 1000:,.1f} | "
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
    n = SIZES[-1]
    r = redis_plan(n)
    two_h = rates(n)[1] * per["start"] * 7200 * m["attempt_bytes"]
    data = r["lasting"] + two_h + r["backlog"]
    print(f"with attempts kept 2 h (2 evening-peak hours of starts) at {label(n)}: {gib(r['lasting'])} + {gib(two_h)} "
          f"+ {gib(r['backlog'])} = {gib(data)} of data, "
          f"{math.ceil(data / (a['redis_data_per_master_gb'] * 2**30))} masters by memory, {r['by_cpu']} by CPU")
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
    print("### Archiving one batch at a time (as of 34b8351): the ceiling")
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
        drain = f"{backlog / spare / 60:,.0f} min" if spare > 0 else "not during the evening peak (above the ceiling)"
        print(f"| {label(n)} | {pk * events_pp / cap:,.1f}x | {ev * events_pp / cap:,.2f}x | "
              f"{day / (cap * 86400):,.2f}x | {backlog / 1e6:,.1f} M events ({gib(backlog * m['stream_bytes_per_event'])}) | "
              f"{drain} |")
    print(f"evening peak reaches the ceiling at {cap * a['days'] * 86400 / (a['peak_day'] * a['peak_hour'] * events_pp) / 1e6:,.1f} M "
          f"participants; the peak day's events fill whole days at {cap * 86400 * a['days'] / (a['peak_day'] * events_pp) / 1e6:,.1f} M")
    print()
    print("### The counters, read shard by shard (as of 34b8351)")
    print()
    lo, hi = m["hmget_us"] / 1000, m["page_bigagg_redis_ms"]
    every = a["aggregates_every_s"]
    print(f"| participants | --redis-shards | page views/s | campaign page: baton cores (1 shard) | "
          f"campaign page: Redis cores (an HMGET a shard, {m['hmget_us']:g}–{hi * 1000:g} µs) | "
          f"regions/units boards: one reading, baton / Redis CPU | baton pods | "
          f"… read every {every} s in every pod: baton cores a pod | … Redis cores in all |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        pk = rates(n)[3]
        s = redis_plan(n)["shards"]
        pv = pk * per["page"]
        page_redis = [pv * (hi + (s - 1) * h) / 1000 for h in (lo, hi)]
        read_api, read_redis = s * m["aggregates_api_ms"], s * m["aggregates_redis_ms"]
        p = pods(pk * api_pp / 1000)
        print(f"| {label(n)} | {s} | {pv:,.0f} | {sig(pv * m['page_bigagg_api_ms'] / 1000)} | "
              f"{'–'.join(dict.fromkeys(sig(x) for x in page_redis))} | {sig(read_api / 1000)} s / {sig(read_redis / 1000)} s | "
              f"{p} | {sig(read_api / 1000 / every)} | {sig(p * read_redis / 1000 / every)} |")
    n = SIZES[-1]
    s = redis_plan(n)["shards"]
    p = pods(rates(n)[3] * api_pp / 1000)
    print(f"the campaign page's totals read once per {every} s per pod instead, as /stats does: "
          f"{sig(p * s * hi / 1000 / every)} Redis cores at {label(n)}")
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

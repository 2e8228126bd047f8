#!/usr/bin/env python3
"""Charts of a campaign simulator run: throughput, latency, archiver lag, latency per kind.

    plot.py REPORT_DIR [--out DIR]

Reads REPORT_DIR/timeseries.csv (one row per wall-clock second) and REPORT_DIR/report.json and
writes throughput.png, latency.png, archiver.png and latency_by_kind.png into DIR (REPORT_DIR by
default). A missing file or a malformed column exits 2. loadtest/plot.sh installs matplotlib.
"""
import argparse
import csv
import json
import math
import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

COLUMNS = ["second", "campaign_hour", "requests", "errors", "joins", "answers", "finishes", "board_reads",
           "active_journeys", "p50_ms", "p99_ms", "archiver_backlog", "archiver_lag_s"]
WINDOW = 10  # rows (= seconds) of the rolling statistics
TARGET_P99_MS = 50
TARGET_LAG_S = 5

plt.rcParams.update({"font.size": 13, "axes.grid": False, "figure.dpi": 100})


def fail(msg):
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_timeseries(path):
    """Returns {column: float array}, NaN where a cell is empty."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    with f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows, [])]
        for col in COLUMNS:
            if col not in header:
                fail(f"{path}: header has no column {col!r}")
        idx = [header.index(col) for col in COLUMNS]
        data = []
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            values = []
            for col, i in zip(COLUMNS, idx):
                cell = row[i].strip() if i < len(row) else ""
                try:
                    values.append(float(cell) if cell else math.nan)
                except ValueError:
                    fail(f"{path}: line {line}: column {col!r} is not a number: {cell!r}")
            if math.isnan(values[0]):
                fail(f"{path}: line {line}: column 'second' is empty")
            data.append(values)
    if not data:
        fail(f"{path}: no rows after the header")
    return dict(zip(COLUMNS, np.array(data).T))


def read_report(path):
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON: {e}")
    if not isinstance(report, dict) or not isinstance(report.get("kinds"), dict):
        fail(f"{path}: no 'kinds' object")
    for kind, stats in report["kinds"].items():
        for key in ("count", "p50_ms", "p99_ms"):
            if not isinstance(stats, dict) or key not in stats:
                fail(f"{path}: kinds.{kind} has no {key!r}")
    return report


def rolling(values, func):
    """Trailing WINDOW-row statistic over the non-empty cells (NaN where a window has none)."""
    padded = np.concatenate([np.full(WINDOW - 1, np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-empty windows
        return func(windows, axis=1)


def log_ticks(axis):
    """Ticks at 1, 2, 5 x 10^n, written plainly (0.5, 20, 1000)."""
    axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def run_summary(report):
    parts = []
    if is_number(report.get("participants")):
        parts.append(f"{int(report['participants']):,} participants")
    if is_number(report.get("speed")):
        parts.append(f"campaign clock x{report['speed']:g}")
    if is_number(report.get("wall_s")):
        parts.append(f"{report['wall_s'] / 60:.1f} min wall time")
    return ", ".join(parts)


def new_figure(title, report):
    fig, ax = plt.subplots(figsize=(16, 9), layout="constrained")
    fig.suptitle(title, fontsize=18, fontweight="bold")
    ax.set_title(run_summary(report), fontsize=12, color="0.35", loc="left")
    ax.grid(True, alpha=0.3)
    return fig, ax


def day_axis(ax, ts):
    """Campaign days on a top x axis: a tick and a faint line where each day starts."""
    hours = ts["campaign_hour"]
    known = ~np.isnan(hours)
    if not known.any():
        return
    minutes = ts["second"][known] / 60
    reached = np.maximum.accumulate(hours[known])
    ticks, labels = [], []
    for day in range(math.ceil(reached[0] / 24), math.ceil(reached[-1] / 24)):
        i = np.searchsorted(reached, day * 24)  # first row at or past the day's start
        ticks.append(minutes[i])
        labels.append(f"day {day + 1}")
        ax.axvline(minutes[i], color="0.5", lw=0.8, ls=":", zorder=0)
    top = ax.secondary_xaxis("top")
    top.set_xticks(ticks, labels)
    top.set_xlabel("campaign day (simulated)")


def time_axis(ax, ts):
    minutes = ts["second"] / 60
    if minutes[-1] > minutes[0]:
        ax.set_xlim(minutes[0], minutes[-1])
    ax.set_xlabel("wall time (min)")
    day_axis(ax, ts)


def legend(*axes, **kw):
    handles, labels = [], []
    for ax in axes:
        h, l = ax.get_legend_handles_labels()
        handles += h
        labels += l
    axes[0].legend(handles, labels, framealpha=0.9, **kw)


def save(fig, path):
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_throughput(ts, report, path):
    fig, ax = new_figure("Throughput", report)
    x = ts["second"] / 60
    for col, label in [("requests", "requests/s"), ("answers", "answers/s"), ("joins", "joins/s"),
                       ("finishes", "finishes/s")]:
        ax.plot(x, rolling(ts[col], np.nanmean), lw=1.5, label=f"{label} ({WINDOW} s rolling mean)")
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(x, ts["active_journeys"], color="0.3", ls="--", lw=1.2, label="active journeys (right axis)")
    right.set_ylabel("active journeys")
    right.set_ylim(bottom=0)
    time_axis(ax, ts)
    legend(ax, right, loc="upper left")
    return save(fig, path)


def plot_latency(ts, report, path):
    fig, ax = new_figure("Participant request latency", report)
    x = ts["second"] / 60
    ax.plot(x, rolling(ts["p99_ms"], np.nanmax), color="tab:red", lw=1.3, label=f"p99 ({WINDOW} s rolling max)")
    ax.plot(x, rolling(ts["p50_ms"], np.nanmedian), color="tab:blue", lw=1.3,
            label=f"p50 ({WINDOW} s rolling median)")
    ax.axhline(TARGET_P99_MS, color="black", ls="--", lw=1.2, label=f"target p99 {TARGET_P99_MS} ms")
    ax.set_yscale("log")
    log_ticks(ax.yaxis)
    ax.set_ylabel("latency (ms, log scale)")
    time_axis(ax, ts)
    legend(ax, loc="upper left")
    return save(fig, path)


def plot_archiver(ts, report, path):
    fig, ax = new_figure("Archiver", report)
    x = ts["second"] / 60
    lag, backlog = ts["archiver_lag_s"], ts["archiver_backlog"]
    if np.isnan(lag).all() and np.isnan(backlog).all():
        ax.text(0.5, 0.5, "archiver not scraped", ha="center", va="center", fontsize=28, color="0.4",
                transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return save(fig, path)
    # Scrapes may be sparser than rows: join the scraped points rather than leave gaps.
    seen = ~np.isnan(lag)
    ax.plot(x[seen], lag[seen], color="tab:purple", lw=1.5, label="archiver lag (s)")
    ax.axhline(TARGET_LAG_S, color="black", ls="--", lw=1.2, label=f"target {TARGET_LAG_S} s")
    ax.set_ylabel("lag (s)")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    seen = ~np.isnan(backlog)
    right.plot(x[seen], backlog[seen], color="tab:orange", lw=1.2, alpha=0.8, label="backlog (events, right axis)")
    right.set_ylabel("backlog (events)")
    right.set_ylim(bottom=0)
    time_axis(ax, ts)
    legend(ax, right, loc="upper left")
    return save(fig, path)


def plot_latency_by_kind(report, path):
    fig, ax = new_figure("Latency by request kind (whole run)", report)
    kinds = [(name, s) for name, s in report["kinds"].items() if is_number(s["p50_ms"]) and is_number(s["p99_ms"])]
    kinds.sort(key=lambda item: item[1]["p99_ms"])  # slowest at the top
    y = np.arange(len(kinds))
    h = 0.4
    for offset, key, color in [(h / 2, "p99_ms", "tab:red"), (-h / 2, "p50_ms", "tab:blue")]:
        values = [s[key] for _, s in kinds]
        bars = ax.barh(y + offset, values, h, color=color, label=key.split("_")[0])
        ax.bar_label(bars, labels=[f"{v:.3g} ms" for v in values], padding=4, fontsize=11,
                     bbox={"fc": "white", "ec": "none", "pad": 1})
    ax.axvline(TARGET_P99_MS, color="black", ls="--", lw=1.2, label=f"target p99 {TARGET_P99_MS} ms")

    def label(name, s):
        errors = s.get("errors")
        tail = f", {int(errors):,} errors" if is_number(errors) and errors > 0 else ""
        return f"{name}\n{int(s['count']):,} requests{tail}" if is_number(s["count"]) else name

    ax.set_yticks(y, [label(name, s) for name, s in kinds])
    ax.set_xscale("log")
    positive = [s[k] for _, s in kinds for k in ("p50_ms", "p99_ms") if s[k] > 0] + [TARGET_P99_MS]
    ax.set_xlim(10 ** math.floor(math.log10(min(positive))), max(positive) * 4)  # room for the labels
    log_ticks(ax.xaxis)
    ax.set_xlabel("latency (ms, log scale)")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.grid(False, axis="y")
    ax.legend(loc="lower right", framealpha=0.9)
    return save(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir")
    parser.add_argument("--out", help="where the PNGs go (default: REPORT_DIR)")
    args = parser.parse_args()
    out = args.out or args.report_dir
    ts = read_timeseries(os.path.join(args.report_dir, "timeseries.csv"))
    report = read_report(os.path.join(args.report_dir, "report.json"))
    os.makedirs(out, exist_ok=True)
    for path in [plot_throughput(ts, report, os.path.join(out, "throughput.png")),
                 plot_latency(ts, report, os.path.join(out, "latency.png")),
                 plot_archiver(ts, report, os.path.join(out, "archiver.png")),
                 plot_latency_by_kind(report, os.path.join(out, "latency_by_kind.png"))]:
        print(path)


if __name__ == "__main__":
    main()

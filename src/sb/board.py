"""Stage 6, stored totals → text: one window's per-user totals for a cluster or ALL (summed), ranked and laid
out as a plain table or JSON.

The full-screen board (curses, Textual) builds on these in its own issue; this is the one-shot output for
pipes, cron mail and `tui --backend ansi`.
"""
import fnmatch
import glob
import json
import os

from sb.leaderboard import WINDOWS
from sb.rollup import COUNT_METRICS, METRICS, add_into, from_metrics, parse_daily, to_metrics, window_totals, zero
from sb.timeutil import DAY, iso_utc

COLUMNS = (("clock_hours", "CPU-h"), ("elapsed_hours", "Elapsed-h"), ("gpu_clock_hours", "GPU-h"),
           ("jobs", "Jobs"), ("failed_jobs", "Fails"), ("sum_max_mem_mb", "MaxRSS-MB"))
WINDOW_DAYS = {name: days for name, _, days in WINDOWS}


def clusters_in(root, cluster="ALL"):
    if cluster != "ALL":
        return [cluster]
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(root, "clusters", "*", "agg")))


def load_window(root, cluster="ALL", window="alltime", now=None):
    """{user: counters} for the window, summed over the chosen cluster(s).

    All time comes from the per-user files; 30d/365d from the daily rollups, exact to the UTC day, so users
    below min_jobs on each cluster still add up for ALL."""
    merged = {}
    for name in clusters_in(root, cluster):
        agg = os.path.join(root, "clusters", name, "agg")
        if WINDOW_DAYS[window] is None:
            for path in sorted(glob.glob(os.path.join(agg, "users", "*.json"))):
                with open(path, encoding="utf-8") as handle:
                    doc = json.load(handle)
                entry = doc["clusters"][name]
                add_into(merged.setdefault(doc["username"], zero()),
                         from_metrics(dict(entry["counts"], **entry["totals"]), path))
        else:
            today = int(now) // DAY
            window_totals(lambda month: _daily(agg, month), today - WINDOW_DAYS[window] + 1, today, merged)
    return merged


def load_alltime(root, cluster="ALL"):
    """{user: {metric: value}} of all time (kept for the demo)."""
    return {user: to_metrics(c) for user, c in load_window(root, cluster).items()}


def _daily(agg, month):
    path = os.path.join(agg, "rollups", "daily", month + ".json")
    try:
        with open(path, "rb") as handle:
            return parse_daily(handle.read(), path)
    except FileNotFoundError:
        return {}


def ranked(users, metric="clock_hours", min_jobs=3, pattern=None):
    """[(user, metrics)] highest `metric` first, ties by name; users below min_jobs (or not matching) left out."""
    rows = [(u, m) for u, m in users.items()
            if m["jobs"] >= min_jobs and (not pattern or fnmatch.fnmatchcase(u, pattern))]
    rows.sort(key=lambda row: (-row[1][metric], row[0]))
    return rows


def render_table(rows, title, limit=20, metric="clock_hours"):
    """Rank, user and the main skills as an aligned text table; the ranking metric's column comes first."""
    columns = sorted(COLUMNS, key=lambda c: c[0] != metric)
    if metric not in dict(COLUMNS):
        columns = [(metric, metric)] + columns
    header = ["#", "User"] + [label for _, label in columns]
    body = [[str(n), user] + [_fmt(metrics[key]) for key, _ in columns]
            for n, (user, metrics) in enumerate(rows[:limit], 1)]
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([title, line(header), "-" * len(line(header))] + [line(r) for r in body])


def board_document(rows, cluster, window, metric, min_jobs, now):
    """The same ranking as JSON, for scripts."""
    return {"asof": iso_utc(now), "cluster": cluster, "window": window, "metric": metric, "min_jobs": min_jobs,
            "rows": [dict(rank=n, user=user, **metrics) for n, (user, metrics) in enumerate(rows, 1)]}


def _fmt(value):
    return "{:,}".format(value) if isinstance(value, int) else "{:,.1f}".format(value)


assert all(key in METRICS for key, _ in COLUMNS) and set(COUNT_METRICS) <= set(METRICS)

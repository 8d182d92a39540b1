"""Stage 6, stored totals → text: merge clusters' all-time user totals and lay them out as a plain table.

The full-screen board (curses/ANSI/Textual) builds on this in its own issue; this is the one-shot table
used by `demo` and pipes.
"""
import glob
import json
import os

from sb.rollup import from_metrics, to_metrics

COLUMNS = (("clock_hours", "CPU-h"), ("elapsed_hours", "Elapsed-h"), ("gpu_clock_hours", "GPU-h"),
           ("jobs", "Jobs"), ("failed_jobs", "Fails"), ("sum_max_mem_mb", "MaxRSS-MB"))


def load_alltime(root, cluster="ALL"):
    """{user: {metric: value}} summed over the chosen cluster(s), from the per-user files."""
    pattern = os.path.join(root, "clusters", "*" if cluster == "ALL" else cluster, "agg", "users", "*.json")
    merged = {}
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
        for entry in doc["clusters"].values():
            values = dict(entry["counts"], **entry["totals"])
            counters = from_metrics(values, path)
            total = merged.setdefault(doc["username"], [0] * len(counters))
            for i, value in enumerate(counters):
                total[i] += value
    return {user: to_metrics(counters) for user, counters in merged.items()}


def ranked(users, metric="clock_hours", min_jobs=3):
    rows = [(u, m) for u, m in users.items() if m["jobs"] >= min_jobs]
    rows.sort(key=lambda row: (-row[1][metric], row[0]))
    return rows


def render_table(rows, title, limit=20):
    """Rank, user and the main skills as an aligned text table."""
    header = ["#", "User"] + [label for _, label in COLUMNS]
    body = [[str(n), user] + [_fmt(metrics[key]) for key, _ in COLUMNS]
            for n, (user, metrics) in enumerate(rows[:limit], 1)]
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([title, line(header), "-" * len(line(header))] + [line(r) for r in body])


def _fmt(value):
    return "{:,}".format(value) if isinstance(value, int) else "{:,.1f}".format(value)


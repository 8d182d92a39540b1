"""Stage 5, rollups → leaderboards: rank users on every metric for one window of one cluster."""
import json

from sb.rollup import METRICS, to_metrics
from sb.timeutil import iso_utc

# window name → file name under agg/leaderboards/, and the days it spans (None: all time).
WINDOWS = (("alltime", "alltime", None), ("30d", "rolling-30d", 30), ("365d", "rolling-365d", 365))


def rank(totals, min_jobs):
    """{user: counters} → {metric: [(rank, user, value)]}: highest first, ties by name, ≥ min_jobs jobs."""
    eligible = {user: to_metrics(counters) for user, counters in totals.items() if counters[0] >= min_jobs}
    boards = {}
    for metric in METRICS:
        ordered = sorted(eligible, key=lambda user: (-eligible[user][metric], user))
        boards[metric] = [(n, user, eligible[user][metric]) for n, user in enumerate(ordered, 1)]
    return boards


def board_json(window, cluster, min_jobs, boards, asof):
    """The leaderboard file: one board per metric, one row per line."""
    head = '{"asof":%s,"window":%s,"cluster":%s,"min_jobs":%d,"boards":{' % (
        json.dumps(iso_utc(asof)), json.dumps(window), json.dumps(cluster), min_jobs)
    parts = []
    for metric in METRICS:
        rows = ",\n".join('{"rank":%d,"user":%s,"value":%s}' % (n, json.dumps(user), json.dumps(value))
                          for n, user, value in boards[metric])
        parts.append("%s:[\n%s\n]" % (json.dumps(metric), rows) if rows else "%s:[]" % json.dumps(metric))
    return (head + "\n" + ",\n".join(parts) + "}}\n").encode()

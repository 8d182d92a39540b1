"""Leaderboard files: users ranked on every metric for one window of one cluster, and every user's counters."""
import json

from sb.store.counters import COLUMNS, METRICS, to_metrics
from sb.store.seal import seal
from sb.timeutil import iso_utc

def rank(totals, min_jobs, top=None):
    """{user: counters} → {metric: [(rank, user, value)]}: highest first, ties by name, ≥ min_jobs jobs."""
    eligible = {user: to_metrics(counters) for user, counters in totals.items() if counters[0] >= min_jobs}
    boards = {}
    for metric in METRICS:
        ordered = sorted(eligible, key=lambda user: (-eligible[user][metric], user))[:top]
        boards[metric] = [(n, user, eligible[user][metric]) for n, user in enumerate(ordered, 1)]
    return boards


def board_json(window, cluster, min_jobs, totals, asof, top=None):
    """The leaderboard file: the top rows of one board per metric, one row per line, then the table.

    The table holds every user with a job in the window (below min_jobs too) as exact integer counters, so
    the scoreboard can sort on any column and sum users across clusters from these files alone. It is stored
    by column (one list of names, one list per counter): that parses a third faster than a list per user."""
    head = '{"asof":%s,"window":%s,"cluster":%s,"min_jobs":%d,"boards":{' % (
        json.dumps(iso_utc(asof)), json.dumps(window), json.dumps(cluster), min_jobs)
    boards = rank(totals, min_jobs, top)
    parts = []
    for metric in METRICS:
        rows = ",\n".join('{"rank":%d,"user":%s,"value":%s}' % (n, json.dumps(user), json.dumps(value))
                          for n, user, value in boards[metric])
        parts.append("%s:[\n%s\n]" % (json.dumps(metric), rows) if rows else "%s:[]" % json.dumps(metric))
    users = sorted(totals)
    columns = [users] + [[totals[user][i] for user in users] for i in range(len(COLUMNS))]
    table = ",\n".join(json.dumps(column, separators=(",", ":")) for column in columns)
    return seal((head + "\n" + ",\n".join(parts) + "},\n" + '"table":{"columns":%s,"data":[\n%s\n]}}\n' % (
        json.dumps(("user",) + COLUMNS, separators=(",", ":")), table)).encode())

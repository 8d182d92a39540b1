"""Leaderboard files: users ranked on every usage metric for one window of one cluster, and every user's,
account's and partition's counters."""
import json

from sb.store.counters import COLUMNS, V1_METRICS, add_into, to_metrics, zero
from sb.store.seal import seal
from sb.timeutil import iso_utc

GROUPS = ("account", "partition")       # the row key's parts after the user, in this order


def rank(totals, min_jobs, top=None):
    """{user: counters} → {metric: [(rank, user, value)]}: highest first, ties by name, ≥ min_jobs jobs."""
    eligible = {user: to_metrics(counters) for user, counters in totals.items() if counters[0] >= min_jobs}
    boards = {}
    for metric in V1_METRICS:
        ordered = sorted(eligible, key=lambda user: (-eligible[user][metric], user))[:top]
        boards[metric] = [(n, user, eligible[user][metric]) for n, user in enumerate(ordered, 1)]
    return boards


def sums(totals):
    """{(user, account, partition): counters} → ({user: counters}, {"account": {name: (counters, users)},
    "partition": ...}): the sums per user and per group, with each group's member users."""
    users, groups = {}, {by: {} for by in GROUPS}
    for key, counters in totals.items():
        add_into(users.setdefault(key[0], zero()), counters)
        for by, name in zip(GROUPS, key[1:]):
            entry = groups[by].get(name)
            if entry is None:
                entry = groups[by][name] = (zero(), set())
            add_into(entry[0], counters)
            entry[1].add(key[0])
    return users, groups


def board_json(window, cluster, min_jobs, totals, asof, top=None):
    """The leaderboard file: the top rows of one board per usage metric, one row per line, then the tables.

    `totals` is {(user, account, partition): counters}. The user table holds every user with a job in the
    window (below min_jobs too) as exact integer counters, so the scoreboard can sort on any column and sum
    users across clusters from these files alone; the group tables hold every account and partition with
    a job, and their members (indexes into the user table), so that ALL can count a group's users once.
    Tables are stored by column (one list of names, one list per counter): that parses a third faster
    than a list per row."""
    users, groups = sums(totals)
    head = '{"asof":%s,"window":%s,"cluster":%s,"min_jobs":%d,"boards":{' % (
        json.dumps(iso_utc(asof)), json.dumps(window), json.dumps(cluster), min_jobs)
    boards = rank(users, min_jobs, top)
    parts = []
    for metric in V1_METRICS:
        rows = ",\n".join('{"rank":%d,"user":%s,"value":%s}' % (n, json.dumps(user), json.dumps(value))
                          for n, user, value in boards[metric])
        parts.append("%s:[\n%s\n]" % (json.dumps(metric), rows) if rows else "%s:[]" % json.dumps(metric))
    names = sorted(users)
    position = {user: n for n, user in enumerate(names)}
    text = head + "\n" + ",\n".join(parts) + "},\n" + '"table":' + _table("user", names, [users[u] for u in names])
    for by in GROUPS:
        found = sorted(groups[by])
        members = [sorted(position[user] for user in groups[by][name][1]) for name in found]
        text += ',\n"%ss":' % by + _table(by, found, [groups[by][name][0] for name in found], members)
    return seal((text + "}\n").encode())


def _table(by, names, rows, members=None):
    columns = [names] + [[row[i] for row in rows] for i in range(len(COLUMNS))]
    data = ",\n".join(json.dumps(column, separators=(",", ":")) for column in columns)
    extra = ',\n"members":%s' % json.dumps(members, separators=(",", ":")) if members is not None else ""
    return '{"columns":%s,"data":[\n%s\n]%s}' % (json.dumps((by,) + COLUMNS, separators=(",", ":")), data, extra)


def moves_json(cluster, day, asof, deltas):
    """The rank-movement file: for each window, what its figures gained in the last MOVE_DAYS days less what
    left it (the days that dropped out of a rolling window), per user, account and partition, as the
    leaderboards' tables (counters may be negative). The board subtracts them from a window to rank it as it
    stood at the end of UTC day `day` - MOVE_DAYS. `deltas` is {window: {(user, account, partition): counters}};
    only names with a nonzero delta are listed."""
    parts = []
    for window in sorted(deltas):
        users, groups = sums({key: row for key, row in deltas[window].items() if any(row)})
        tables = [("user", users)] + [(by, {name: entry[0] for name, entry in groups[by].items()}) for by in GROUPS]
        parts.append("%s:{%s}" % (json.dumps(window), ",\n".join(
            "%s:%s" % (json.dumps(by), _table(by, sorted(rows), [rows[name] for name in sorted(rows)]))
            for by, rows in tables)))
    head = '{"asof":%s,"cluster":%s,"day":%d,"windows":{\n' % (json.dumps(iso_utc(asof)), json.dumps(cluster), day)
    return seal((head + ",\n".join(parts) + "}}\n").encode())

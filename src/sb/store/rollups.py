"""Rollup and user files: the daily (exact) and monthly (spec §8) rollups and agg/users/<user>.json, to bytes
and back, and the sums made of a month's daily mapping."""
import functools
import json
import re
from operator import itemgetter

from sb.store.counters import COLUMNS, COUNT_METRICS, METRICS, WIDTH, add_into, from_metrics, to_metrics, zero
from sb.store.seal import seal, unseal
from sb.timeutil import DAY, day_label, day_month, iso_utc, month_start, next_month


# ---- daily rollups: the exact record of a month, {"DD": {user: counters}} -------------------------

def merge_days(daily, batch_days):
    """Add a batch's {day number: {user: counters}} into a daily mapping {"DD": {user: counters}}."""
    for day, users in batch_days.items():
        target = daily.setdefault(day_label(day), {})
        for user, counters in users.items():
            add_into(target.setdefault(user, zero()), counters)
    return daily


def remove_user(daily, month, user, first_day=None, last_day=None):
    """Drop a user's entries from a month's daily mapping (only days first_day..last_day if given);
    return the counters removed. Days left empty are dropped."""
    removed, base = zero(), month_start(month) // DAY - 1
    for label in list(daily):
        day = base + int(label)
        if user in daily[label] and (first_day is None or first_day <= day <= last_day):
            add_into(removed, daily[label].pop(user))
            if not daily[label]:
                del daily[label]
    return removed


def window_totals(load_daily, first_day, last_day, totals=None):
    """{user: counters} of jobs whose End falls on UTC days first_day..last_day, from the daily rollups
    of the months they span (`load_daily(month)` -> that month's daily mapping)."""
    totals = {} if totals is None else totals
    month = day_month(first_day)
    while month <= day_month(last_day):
        before_first = month_start(month) // DAY - 1
        for label, users in load_daily(month).items():
            if first_day <= before_first + int(label) <= last_day:
                for user, counters in users.items():
                    add_into(totals.setdefault(user, zero()), counters)
        month = next_month(month)
    return totals


def month_totals(daily):
    """{user: counters} of a month from its daily mapping."""
    totals = {}
    for users in daily.values():
        for user, counters in users.items():
            add_into(totals.setdefault(user, zero()), counters)
    return totals


def daily_json(month, daily):
    lines = ['{"month":%s,"columns":%s,"days":{' % (json.dumps(month), _compact(list(COLUMNS)))]
    days = sorted(daily)
    for n, day in enumerate(days):
        users = daily[day]
        body = ",".join("%s:%s" % (json.dumps(u), _compact(users[u])) for u in sorted(users))
        lines.append('%s:{%s}%s' % (json.dumps(day), body, "," if n < len(days) - 1 else ""))
    lines.append("}}")
    return seal(("\n".join(lines) + "\n").encode())


def parse_daily(data, where):
    doc = json.loads(unseal(data, where).decode())
    if list(doc.get("columns", ())) != list(COLUMNS):
        raise ValueError("{}: columns are {!r}, expected {!r}".format(where, doc.get("columns"), COLUMNS))
    daily = {}
    for day, users in doc["days"].items():
        daily[day] = {}
        for user, counters in users.items():
            if len(counters) != WIDTH or not all(isinstance(v, int) and v >= 0 for v in counters):
                raise ValueError("{}: day {} user {} has bad counters".format(where, day, user))
            daily[day][user] = list(counters)
    return daily


# ---- monthly rollups and user files: the spec's shapes ------------------------------------------

def monthly_json(month, totals, asof):
    rows = [dict([("username", user)] + list(to_metrics(totals[user]).items())) for user in sorted(totals)]
    return _document([("asof", iso_utc(asof)), ("month", month)], "users", rows)


def parse_monthly(data, where):
    """{user: counters} of a monthly rollup file."""
    return {user: from_metrics(row, "{} user {}".format(where, user))
            for user, row in parse_monthly_metrics(data, where).items()}


def parse_monthly_metrics(data, where):
    """{user: {metric: value}} of a monthly rollup file as stored (hours, MB), checksum checked: for readers
    that chart months and need no exact counters (the report reads 36 months x every cluster)."""
    doc = json.loads(unseal(data, where).decode())
    return {row["username"]: row for row in doc["users"]}


@functools.lru_cache(maxsize=8)
def _monthly_row(keys):
    """A regular expression for one row of monthly_json as it writes it, {"username":"u",<every metric in
    METRICS order>} on a line of its own, capturing the user and the metrics in `keys` (a sorted tuple)."""
    fields = [b'"%s":%s[^,}\n]*%s' % (name.encode(), b"(" if name in keys else b"", b")" if name in keys else b"")
              for name in METRICS]
    return re.compile(rb'^\{"username":"([a-z0-9_][a-z0-9._-]*)",' + b",".join(fields) + rb"\},?$", re.M)


def parse_monthly_columns(data, where, keys):
    """(users, {metric: [value per row]}) of a monthly rollup for the metrics in `keys`, checksum checked,
    one entry per row (a user may have several rows), values as floats. The report sums 36 months of every cluster, so rows as this module writes them are
    matched by one regular expression (several times faster than json); a file holding any other row
    (another version's keys, nulls) is read with json instead."""
    data = unseal(data, where)
    wanted = tuple(name for name in METRICS if name in keys)
    found = _monthly_row(wanted).findall(data)
    if len(found) != data.count(b'{"username":'):
        # rows as json; a user may have several (collector v2 writes one per user, account and partition)
        rows = json.loads(data.decode())["users"]
        present = {k for row in rows for k in row} & set(keys)
        return [row["username"] for row in rows], {k: [row.get(k) for row in rows] for k in sorted(present)}
    users = [row[0].decode() for row in found]
    return users, {name: list(map(float, map(itemgetter(at), found))) for at, name in enumerate(wanted, 1)}


def user_json(user, cluster, counters, asof):
    metrics = to_metrics(counters)
    entry = {"asof": iso_utc(asof),
             "counts": {name: metrics[name] for name in COUNT_METRICS},
             "totals": {name: metrics[name] for name in METRICS[3:]}}
    doc = {"schema_version": 1, "username": user, "clusters": {cluster: entry}}
    return seal(json.dumps(doc, indent=1).encode())


def parse_user(data, cluster, where):
    entry = json.loads(unseal(data, where).decode())["clusters"][cluster]
    merged = dict(entry["counts"])
    merged.update(entry["totals"])
    return from_metrics(merged, where)


def _compact(value):
    return json.dumps(value, separators=(",", ":"))


def _document(head, list_key, rows):
    """JSON with `head` keys first and one `rows` item per line: small diffs, greppable by user."""
    opening = ",".join("%s:%s" % (json.dumps(k), _compact(v)) for k, v in head)
    body = ",\n".join(_compact(row) for row in rows)
    return seal(("{%s,%s:[\n%s\n]}\n" % (opening, json.dumps(list_key), body)).encode())

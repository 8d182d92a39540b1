"""Rollup and user files: the daily (exact) and monthly (spec §8) rollups and agg/users/<user>.json, to bytes
and back, and the sums made of a month's daily mapping.

Every figure is kept per row key (user, account, partition), so that each window can be summed per user,
per account and per partition. In memory: a daily mapping is {"DD": {key: counters}}, month or window
totals {key: counters}, and a user's split {(account, partition): counters}.

Files of the first release (format 1: per user only, memory in KiB) are still read: their rows count under
account and partition "(unknown)" until the collector re-reads their month (collect.heal, the upgrade).
"""
import functools
import json
import re
import zlib
from operator import itemgetter

from sb.store.counters import (COLUMNS, COUNT_METRICS, DERIVED, METRICS, SCALES, V1_COLUMNS, add_into,
                               all_metrics, check_row, from_metrics, from_v1, zero)
from sb.store.seal import seal, unseal
from sb.timeutil import DAY, day_label, day_month, iso_utc, month_start, next_month

FORMAT = 2
UNKNOWN = "(unknown)"      # the account and partition of jobs counted by the first release
GZIP_MAGIC = b"\x1f\x8b"
# Rollup and user files are gzip'd JSON (`zcat FILE | jq` reads them): with two dozen exact counters per
# (user, account, partition) row, 36 months of 6 clusters would be 2 GB as text and is about 500 MB packed
# (bench/bench_storage.py). Level 1: a tenth of the time of level 6 for nine tenths of its gain. The
# leaderboards stay plain: the board reads them at every start.
LEVEL = 1


def pack(data):
    """Sealed JSON → gzip bytes, the same for the same input (mtime 0 in the header: byte-identical reruns)."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def unpack(data, where):
    """A rollup file's bytes → its JSON text (files of the first release were plain text)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return zlib.decompress(data, 31)
    except zlib.error as err:
        raise ValueError("{}: damaged (not a whole gzip stream: {})".format(where, err))


# ---- sums over row keys ----------------------------------------------------------------------------

def merge_days(daily, batch_days):
    """Add a batch's {day number: {key: counters}} into a daily mapping {"DD": {key: counters}}."""
    for day, rows in batch_days.items():
        target = daily.setdefault(day_label(day), {})
        for key, counters in rows.items():
            add_into(target.setdefault(key, zero()), counters)
    return daily


def remove_user(daily, month, user, first_day=None, last_day=None):
    """Drop a user's rows from a month's daily mapping (only days first_day..last_day if given); return
    what was removed as the user's split. Days left empty are dropped."""
    removed, base = {}, month_start(month) // DAY - 1
    for label in list(daily):
        day = base + int(label)
        if first_day is not None and not first_day <= day <= last_day:
            continue
        rows = daily[label]
        for key in [key for key in rows if key[0] == user]:
            add_into(removed.setdefault(key[1:], zero()), rows.pop(key))
        if not rows:
            del daily[label]
    return removed


def window_totals(load_daily, first_day, last_day, totals=None):
    """{key: counters} of jobs whose End falls on UTC days first_day..last_day, from the daily rollups
    of the months they span (`load_daily(month)` -> that month's daily mapping)."""
    totals = {} if totals is None else totals
    month = day_month(first_day)
    while month <= day_month(last_day):
        before_first = month_start(month) // DAY - 1
        for label, rows in load_daily(month).items():
            if first_day <= before_first + int(label) <= last_day:
                for key, counters in rows.items():
                    add_into(totals.setdefault(key, zero()), counters)
        month = next_month(month)
    return totals


def month_totals(daily):
    """{key: counters} of a month from its daily mapping."""
    totals = {}
    for rows in daily.values():
        for key, counters in rows.items():
            add_into(totals.setdefault(key, zero()), counters)
    return totals


def by_user(totals):
    """{key: counters} → {user: {(account, partition): counters}}."""
    splits = {}
    for (user, account, partition), counters in totals.items():
        splits.setdefault(user, {})[account, partition] = counters
    return splits


def flatten(splits):
    """{user: {(account, partition): counters}} → {key: counters}."""
    return {(user,) + group: counters for user, split in splits.items() for group, counters in split.items()}


def merge_split(target, split, sign=1, prune=False):
    """Add (or with sign=-1 take away) a user's split into another; with `prune`, groups left with no job
    are dropped (not for deltas, which may pass through 0 jobs on their way)."""
    for group, counters in split.items():
        row = target.setdefault(group, zero())
        for i, value in enumerate(counters):
            row[i] += sign * value
        if prune and not row[0]:
            del target[group]
    return target


def split_total(split):
    """A user's counters summed over their accounts and partitions."""
    total = zero()
    for counters in split.values():
        add_into(total, counters)
    return total


# ---- daily rollups: the exact record of a month --------------------------------------------------

def daily_json(month, daily):
    """Names once in three tables, then one line per day of rows [user, account, partition, counters...]
    by table index: compact, and encoded without a json.dumps per row."""
    keys = sorted({key for rows in daily.values() for key in rows})
    tables = [sorted({key[i] for key in keys}) for i in range(3)]
    where = [{name: n for n, name in enumerate(table)} for table in tables]
    head = '{"format":%d,"month":%s,"columns":%s,"users":%s,"accounts":%s,"partitions":%s,"days":{' % (
        FORMAT, json.dumps(month), _compact(list(COLUMNS)), _compact(tables[0]), _compact(tables[1]),
        _compact(tables[2]))
    lines = [head]
    days = sorted(daily)
    for n, day in enumerate(days):
        rows = daily[day]
        body = ",".join("[%d,%d,%d,%s]" % (where[0][key[0]], where[1][key[1]], where[2][key[2]],
                                           ",".join(map(str, rows[key]))) for key in sorted(rows))
        lines.append('"%s":[%s]%s' % (day, body, "," if n < len(days) - 1 else ""))
    lines.append("}}")
    return pack(seal(("\n".join(lines) + "\n").encode()))


def _document(data, where, first_columns=None):
    """A rollup file's JSON, its checksum and columns checked: (doc, whether it is of today's format). A file
    of the first release must have `first_columns` when given (its monthly files had none)."""
    doc = json.loads(unseal(unpack(data, where), where).decode())
    current = doc.get("format") == FORMAT
    expected = COLUMNS if current else first_columns
    if expected is not None and list(doc.get("columns", ())) != list(expected):
        raise ValueError("{}: columns are {!r}, expected {!r}".format(where, doc.get("columns"), expected))
    return doc, current


def parse_daily(data, where):
    doc, current = _document(data, where, V1_COLUMNS)
    if not current:
        return _parse_daily_v1(doc, where)
    tables = [doc["users"], doc["accounts"], doc["partitions"]]
    daily = {}
    for day, rows in doc["days"].items():
        target = daily[day] = {}
        for row in rows:
            key = (tables[0][row[0]], tables[1][row[1]], tables[2][row[2]])
            target[key] = check_row(row[3:], "{} day {} user {}".format(where, day, key[0]))
    return daily


def _parse_daily_v1(doc, where):
    daily = {}
    for day, users in doc["days"].items():
        daily[day] = {}
        for user, counters in users.items():
            if len(counters) != len(V1_COLUMNS) or not all(type(v) is int and v >= 0 for v in counters):
                raise ValueError("{}: day {} user {} has bad counters".format(where, day, user))
            daily[day][user, UNKNOWN, UNKNOWN] = from_v1(counters)
    return daily


def is_first_format(data):
    """A daily rollup written by the first release (no efficiency counters, no accounts)?"""
    return not data.startswith(GZIP_MAGIC) and not data.startswith(b'{"format":')


# ---- monthly rollups and user files: the spec's shapes ------------------------------------------

def monthly_json(month, totals, asof):
    """One row per (username, account, partition) a line: the exact counters, named by "columns" (hours, MB
    and ratios are derived from them when shown: `tui --json` has every metric)."""
    rows = ['{"username":%s,"account":%s,"partition":%s,"counters":[%s]}' % (
        json.dumps(key[0]), json.dumps(key[1]), json.dumps(key[2]), ",".join(map(str, totals[key])))
        for key in sorted(totals)]
    return pack(seal(('{"format":%d,"asof":%s,"month":%s,"columns":%s,"users":[\n%s\n]}\n' % (
        FORMAT, json.dumps(iso_utc(asof)), json.dumps(month), _compact(list(COLUMNS)), ",\n".join(rows))).encode()))


def parse_monthly(data, where):
    """{key: counters} of a monthly rollup file."""
    doc, current = _document(data, where)
    if not current:
        return {(row["username"], UNKNOWN, UNKNOWN): from_v1(from_metrics(row, "{} user {}".format(
            where, row.get("username")))) for row in doc["users"]}
    return {(row["username"], row["account"], row["partition"]): check_row(row["counters"], "{} user {}".format(
        where, row.get("username"))) for row in doc["users"]}


def monthly_columns(data, where, names):
    """(users, {metric: [value per row]}) of the metrics `names` (sums: counts, hours, MB) of a monthly rollup,
    for charts: the checksum is checked but not each row's counters, and no row dict is kept (the report
    reads 36 months of every cluster). Rows as monthly_json writes them are matched by one regular
    expression, five times faster than json; any other file is read with json."""
    text = unseal(unpack(data, where), where)
    if text.startswith(b'{"format":%d,' % FORMAT):
        ordered = tuple(sorted(names, key=METRICS.index))      # the groups come in the counters' order
        found = _monthly_row(ordered).findall(text)
        if len(found) == text.count(b'\n{"username":'):
            columns = {}
            for n, name in enumerate(ordered, 1):
                scale = SCALES[METRICS.index(name)]
                values = list(map(int, map(itemgetter(n), found)))
                columns[name] = values if scale == 1 else [value / scale for value in values]
            return [row[0].decode() for row in found], columns
    doc, current = _document(data, where)
    rows = doc["users"]
    if not current:     # the first release's: the metrics are the row's own keys
        return [row["username"] for row in rows], {name: [row.get(name, 0) for row in rows] for name in names}
    columns = {}
    for name in names:
        at = METRICS.index(name)
        scale = SCALES[at]
        values = [row["counters"][at] for row in rows]
        columns[name] = values if scale == 1 else [value / scale for value in values]
    return [row["username"] for row in rows], columns


ROW_FIELDS = ("username", "account", "partition")


def monthly_rows_of(data, where, field, name):
    """[(username, counters)] of the rows of a monthly rollup whose `field` (username, account or partition)
    is `name`, for one player's page: the file's checksum is checked, then only the lines naming `name` are
    parsed (a line is one row as monthly_json writes it; a quote inside a name is escaped there, so the
    needle cannot match inside another field). Files of another shape are read whole."""
    text = unseal(unpack(data, where), where)
    if not text.startswith(b'{"format":%d,' % FORMAT):
        at = ROW_FIELDS.index(field)
        return [(key[0], counters) for key, counters in sorted(parse_monthly(data, where).items())
                if key[at] == name]
    needle = '"{}":{},'.format(field, json.dumps(name)).encode()
    rows, at = [], text.find(needle)
    while at >= 0:
        start, end = text.rfind(b"\n", 0, at) + 1, text.find(b"\n", at)
        row = json.loads(text[start:end].rstrip(b",").decode())
        if row[field] == name:
            rows.append((row["username"], check_row(row["counters"], "{} user {}".format(where, row["username"]))))
        at = text.find(needle, end)
    return rows


@functools.lru_cache(maxsize=8)
def _monthly_row(names):
    """A regular expression for one row of monthly_json as it writes it, capturing the username and the
    counters of the metrics `names`: '{"username":"u","account":..,"partition":..,"counters":[1,2,...]}'."""
    wanted = {METRICS.index(name) for name in names}
    counters = b",".join(b"(\\d+)" if at in wanted else b"\\d+" for at in range(len(COLUMNS)))
    name = rb'"[^"\\]*(?:\\.[^"\\]*)*"'       # a JSON string (escapes are rare: the unrolled form is fastest)
    return re.compile(rb'^\{"username":"([^"\\]*)","account":' + name + rb',"partition":' + name +
                      rb',"counters":\[' + counters + rb"\]\},?$", re.M)


def user_json(user, cluster, split, asof):
    """A user's all-time figures on one cluster: the sums (spec shape), efficiency, and the exact split by
    account and partition [[account, partition, counters...], ...] in COLUMNS order."""
    total = split_total(split)
    metrics = all_metrics(total)
    entry = {"asof": iso_utc(asof),
             "counts": {name: metrics[name] for name in COUNT_METRICS},
             "totals": {name: metrics[name] for name in METRICS if name not in COUNT_METRICS},
             "efficiency": {name: metrics[name] for name in DERIVED},
             "split": [[account, partition] + split[account, partition] for account, partition in sorted(split)]}
    doc = {"schema_version": FORMAT, "username": user, "clusters": {cluster: entry}}
    return pack(seal(json.dumps(doc, separators=(",", ":")).encode() + b"\n"))


def parse_user(data, cluster, where):
    """A user file → the user's split {(account, partition): counters}."""
    doc = json.loads(unseal(unpack(data, where), where).decode())
    entry = doc["clusters"][cluster]
    if doc.get("schema_version") != FORMAT:
        merged = dict(entry["counts"])
        merged.update(entry["totals"])
        return {(UNKNOWN, UNKNOWN): from_v1(from_metrics(merged, where))}
    split = {}
    for row in entry["split"]:
        if not isinstance(row[0], str) or not isinstance(row[1], str):
            raise ValueError("{}: a split row without account and partition".format(where))
        split[row[0], row[1]] = check_row(row[2:], where)
    return split


def _compact(value):
    return json.dumps(value, separators=(",", ":"))


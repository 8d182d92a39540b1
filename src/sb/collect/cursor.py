"""state/poll_cursor.json: where collection stands (cold-start progress, catch-up watermark, last success,
the discover queue), read back or made for a new cluster, and to bytes."""
import json
import os
import re

from sb.collect.errors import CollectorError
from sb.names import is_valid_user
from sb.store.data import Damaged, parse_json
from sb.store.files import read_bytes
from sb.timeutil import month_of_epoch, month_start, normalize_month


def load(paths, settings, now, backfill_epoch):
    """The stored cursor, or a new cluster's: cold start from backfill_start up to the month of `now`."""
    data = read_bytes(paths.cursor)
    if data is not None:
        cursor = parse_json(data, paths.cursor)
        problem = shape_problem(cursor)
        if problem:   # quarantined by the engine (collect.heal); the cold start begins again, dedupe skips
            raise Damaged(paths.cursor, problem)
        if cursor.get("cluster") != settings.cluster:
            raise CollectorError("{} belongs to cluster {!r}, not {!r}".format(
                paths.cursor, cursor.get("cluster"), settings.cluster))
        return cursor
    open_month = month_of_epoch(now)
    first = normalize_month(settings.backfill_start)
    return {"schema_version": 1, "cluster": settings.cluster, "backfill_start": settings.backfill_start,
            "coldstart_until": open_month, "coldstart_done": first >= open_month,
            "next_month": None if first >= open_month else first, "coldstart_pos": None,
            "last_complete_month": None, "watermark": max(month_start(open_month), backfill_epoch),
            "last_success": None}


def pull_back(cursor, path, now, skew):
    """A run whose clock was ahead left the watermark in the future, so every later poll would read nothing:
    pull it back to the cursor file's mtime (the file server's clock when it was written) or now, whichever
    is earlier; the late window and dedupe make the re-read exact. Returns the old watermark, or None."""
    if cursor["watermark"] <= now + skew:
        return None
    try:
        written = int(os.stat(path).st_mtime)
    except OSError:
        written = now
    was, cursor["watermark"] = cursor["watermark"], min(now, written)
    return was


_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}\Z")
_EPOCH_MAX = 1 << 40   # far beyond any real time; keeps the arithmetic on watermarks plain integers


def _int(value, low=0):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < _EPOCH_MAX


def _month(value):
    return isinstance(value, str) and bool(_MONTH.match(value))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < _EPOCH_MAX


# field: (what it must be, check); None is allowed where the check says so.
FIELDS = (
    ("cluster", "a name", lambda v: isinstance(v, str) and bool(v)),
    ("watermark", "a whole epoch second", _int),
    ("coldstart_done", "true or false", lambda v: isinstance(v, bool)),
    ("coldstart_until", "a month YYYY-MM", _month),
    ("next_month", "a month YYYY-MM or null", lambda v: v is None or _month(v)),
    ("coldstart_pos", "an epoch second or null", lambda v: v is None or _int(v)),
    ("last_complete_month", "a month YYYY-MM or null", lambda v: v is None or _month(v)),
    ("last_success", "an epoch time or null", lambda v: v is None or _number(v)),
)


def shape_problem(cursor):
    """What is wrong with a parsed cursor's shape (one phrase naming the field), or None."""
    if not isinstance(cursor, dict):
        return "expected a JSON object, found {}".format(type(cursor).__name__ if cursor is not None else "null")
    for key, expected, check in FIELDS:
        if key not in cursor:
            return "no {!r}".format(key)
        if not check(cursor[key]):
            return "{!r} is {!r}, expected {}".format(key, cursor[key], expected)
    if not cursor["coldstart_done"] and cursor["next_month"] is None:
        return "'next_month' is null while the cold start is not done"
    if "too_wide_sec" in cursor and not (cursor["too_wide_sec"] is None or _int(cursor["too_wide_sec"], 1)):
        return "'too_wide_sec' is {!r}, expected a number of seconds".format(cursor["too_wide_sec"])
    queue = cursor.get("backfill_queue", [])
    if not isinstance(queue, list):
        return "'backfill_queue' is not a list"
    for entry in queue:
        if not (isinstance(entry, dict) and isinstance(entry.get("user"), str) and is_valid_user(entry["user"])
                and _month(entry.get("next_month")) and _month(entry.get("until"))):
            return "'backfill_queue' entry {!r} is not {{user, next_month, until}}".format(entry)
    return None


def to_json(cursor):
    return (json.dumps(cursor, indent=1, sort_keys=True) + "\n").encode()

"""state/poll_cursor.json: where collection stands (cold-start progress, catch-up watermark, last success,
the discover queue), read back or made for a new cluster, and to bytes."""
import json

from sb.collect.errors import CollectorError
from sb.store.data import parse_json
from sb.store.files import read_bytes
from sb.timeutil import month_of_epoch, month_start, normalize_month


def load(paths, settings, now, backfill_epoch):
    """The stored cursor, or a new cluster's: cold start from backfill_start up to the month of `now`."""
    data = read_bytes(paths.cursor)
    if data is not None:
        cursor = parse_json(data, paths.cursor)
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


def to_json(cursor):
    return (json.dumps(cursor, indent=1, sort_keys=True) + "\n").encode()

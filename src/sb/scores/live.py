"""Each cluster's live.json (the collector's last squeue snapshot) → what is running now: per user running
and pending jobs, CPUs and GPUs in use, summed over the clusters whose snapshot is fresh (a stale one is
shown as such and never summed into ALL as current)."""
import calendar
import collections
import json
import time

from sb.store.layout import ClusterPaths

FIELDS = ("running", "pending", "cpus", "gpus")
Snapshot = collections.namedtuple("Snapshot", "cluster asof users")
Snapshot.__doc__ = "One cluster's snapshot: when it was taken (epoch seconds) and {user: {field: count}}."
Now = collections.namedtuple("Now", "users fresh stale")
Now.__doc__ = """users {user: {running, pending, cpus, gpus}} summed over the fresh snapshots; fresh and
stale: [(cluster, age in seconds)] of the clusters that have one (the others have no snapshot)."""


def parse_live(path):
    """A live.json → Snapshot; a one-line ValueError naming the file when it is not one."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        doc = json.loads(data.decode("utf-8"))
        asof = calendar.timegm(time.strptime(doc["asof"], "%Y-%m-%dT%H:%M:%SZ"))
        users = {str(user): {field: _count(entry[field]) for field in FIELDS} for user, entry in doc["users"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError("{}: not a live snapshot ({}); the next poll rewrites it".format(path, err))
    return Snapshot(doc.get("cluster"), asof, users)


def _count(value):
    if type(value) is not int or value < 0:
        raise ValueError("a count is {!r}".format(value))
    return value


def now_playing(scores, clusters, now, stale_after):
    """The Now of these clusters: snapshots older than stale_after seconds are stale."""
    users, fresh, stale = {}, [], []
    for cluster in clusters:
        snapshot = scores.cached(ClusterPaths(scores.root, cluster).live, parse_live)
        if snapshot is None:
            continue
        age = max(0, now - snapshot.asof)
        if age > stale_after:
            stale.append((cluster, age))
            continue
        fresh.append((cluster, age))
        for user, entry in snapshot.users.items():
            total = users.setdefault(user, dict.fromkeys(FIELDS, 0))
            for field in FIELDS:
                total[field] += entry[field]
    return Now(users, fresh, stale)

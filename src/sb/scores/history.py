"""Monthly rollups → history: each cluster's totals per month and each player's core-hours per month, for charts;
one name's counters per month, for its page.

Months are read one file at a time and folded at once, so memory holds the sums, never 36 months of rows.
Clusters are independent, so with workers > 1 they are read in parallel processes (reading is all CPU:
36 months x 10k players x 20 clusters is 2M rows)."""
import collections
import math
import multiprocessing

from sb.store.counters import add_into, zero
from sb.store.data import ClusterData, Damaged
from sb.store.layout import ClusterPaths
from sb.timeutil import month_of_epoch

History = collections.namedtuple("History", "months totals players problems")
History.__doc__ = """months: ["YYYY-MM", ...] oldest first; totals: {cluster: {metric: [sum per month]}} for the
metrics asked for that the rollups hold (nulls count nothing); players: {user: [clock_hours per month]} summed
over the clusters, for the players asked for; problems: one line per unreadable file (its month counts 0)."""


def last_months(now, count):
    """The `count` UTC months ending with the month of `now`, oldest first."""
    months = [month_of_epoch(now)]
    while len(months) < count:
        year, month = map(int, months[0].split("-"))
        months.insert(0, "{:04d}-{:02d}".format(year - (month == 1), 12 if month == 1 else month - 1))
    return months


def history(root, clusters, now, keys, players, count=36, exclude=(), workers=1):
    """The History of these clusters over the `count` months ending now, totalling `keys`, with the monthly
    core-hours of the named `players` only (the page shows a few thousand of maybe 100k); users in `exclude`
    (opted out) are left out of both."""
    months = last_months(now, count)
    wanted = frozenset(players) - frozenset(exclude)
    jobs = [(root, cluster, months, frozenset(keys), wanted, frozenset(exclude)) for cluster in clusters]
    totals, merged, problems = {}, {user: [0.0] * count for user in wanted}, []
    for cluster, (sums, series_of, trouble) in zip(clusters, _map(cluster_history, jobs, workers)):
        totals[cluster] = sums
        problems += trouble
        for user, series in series_of.items():
            merged[user] = [a + b for a, b in zip(merged[user], series)]
    return History(months, totals, merged, problems)


def _map(function, jobs, workers):
    if workers < 2 or len(jobs) < 2:
        return list(map(function, jobs))
    try:
        context = multiprocessing.get_context("fork")   # the children need nothing re-imported (a pyz, a zip)
    except ValueError:
        return list(map(function, jobs))
    with context.Pool(min(workers, len(jobs))) as pool:
        return pool.map(function, jobs, chunksize=1)


def cluster_history(job):
    """One cluster's (sums {metric: [per month]}, {player: [core-hours per month]}, problems)."""
    root, cluster, months, keys, wanted, exclude = job
    data = ClusterData(ClusterPaths(root, cluster))
    sums, players, problems = {}, {}, []
    for at, month in enumerate(months):
        try:
            users, columns = data.monthly_columns(month, keys | {"clock_hours"})
        except (Damaged, OSError) as problem:
            problems.append(str(problem))
            continue
        if exclude and not exclude.isdisjoint(users):
            keep = [n for n, user in enumerate(users) if user not in exclude]
            users = [users[n] for n in keep]
            columns = {k: [column[n] for n in keep] for k, column in columns.items()}
        _fold(users, columns, at, len(months), keys, sums, players, wanted)
    return sums, players, problems


def _fold(users, columns, at, count, keys, sums, players, wanted):
    """Add one month's columns into the cluster's sums and the wanted players' core-hours."""
    for key in keys:
        if key in columns:   # fsum: correctly rounded, so every Python (3.12 changed sum()) gives the same page
            sums.setdefault(key, [0] * count)[at] += math.fsum(filter(None, columns[key]))   # None: unknown
    for user, hours in zip(users, columns.get("clock_hours", ())):
        if hours and user in wanted:
            series = players.get(user)
            if series is None:
                series = players[user] = [0.0] * count
            series[at] += hours


def name_months(root, cluster, field, name, months, exclude=()):
    """One name's counters per month on one cluster ([] of zeros where it has no row) and problems: the rows
    whose field (username, account or partition) is `name`, summed, opted-out users' left out. One player's
    page reads only its own lines of each month (store.rollups.monthly_rows_of)."""
    data = ClusterData(ClusterPaths(root, cluster))
    series, problems = [], []
    for month in months:
        total = zero()
        try:
            rows = data.monthly_rows_of(month, field, name)
        except (Damaged, OSError) as problem:
            problems.append("{} {}: {}".format(cluster, month, problem))
            rows = ()
        for user, counters in rows:
            if user not in exclude:
                add_into(total, counters)
        series.append(total)
    return series, problems

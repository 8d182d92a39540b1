"""Monthly rollups → history: each cluster's totals per month and each player's core-hours per month, for charts.

Months are read one file at a time and folded at once, so memory holds the sums, never 36 months of rows.
"""
import collections
import math

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


def history(root, clusters, now, keys, players, count=36, exclude=()):
    """The History of these clusters over the `count` months ending now, totalling `keys`, with the monthly
    core-hours of the named `players` only (the page shows a few thousand of maybe 100k); users in `exclude`
    (opted out) are left out of both."""
    months = last_months(now, count)
    totals, problems = {}, []
    players = {user: [0.0] * count for user in players if user not in exclude}
    for cluster in clusters:
        data = ClusterData(ClusterPaths(root, cluster))
        sums = totals[cluster] = {}
        for at, month in enumerate(months):
            try:
                users, columns = data.monthly_columns(month, set(keys) | {"clock_hours"})
            except (Damaged, OSError) as problem:
                problems.append(str(problem))
                continue
            if exclude and not exclude.isdisjoint(users):
                keep = [n for n, user in enumerate(users) if user not in exclude]
                users = [users[n] for n in keep]
                columns = {k: [column[n] for n in keep] for k, column in columns.items()}
            _fold(users, columns, at, count, keys, sums, players)
    return History(months, totals, players, problems)


def _fold(users, columns, at, count, keys, sums, players):
    """Add one month's columns into the cluster's sums and the players' core-hours."""
    for key in keys:
        if key in columns:   # fsum: correctly rounded, so every Python (3.12 changed sum()) gives the same page
            sums.setdefault(key, [0] * count)[at] += math.fsum(filter(None, columns[key]))   # None: unknown
    series_of = players.get
    for user, hours in zip(users, columns.get("clock_hours", ())):
        series = series_of(user)
        if series is not None and hours:
            series[at] += hours

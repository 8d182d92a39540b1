"""Monthly rollups → history: each cluster's totals per month and each player's core-hours per month, for charts.

Months are read one file at a time and folded at once, so memory holds the sums, never 36 months of rows.
"""
import collections

from sb.store.data import ClusterData, Damaged
from sb.store.layout import ClusterPaths
from sb.timeutil import month_of_epoch

History = collections.namedtuple("History", "months totals players problems")
History.__doc__ = """months: ["YYYY-MM", ...] oldest first; totals: {cluster: {metric: [sum per month]}} over every
numeric key the rollups hold (a key a month lacks counts 0); players: {user: [clock_hours per month]} summed over
the clusters; problems: one line per unreadable file (its months count 0)."""


def last_months(now, count):
    """The `count` UTC months ending with the month of `now`, oldest first."""
    months = [month_of_epoch(now)]
    while len(months) < count:
        year, month = map(int, months[0].split("-"))
        months.insert(0, "{:04d}-{:02d}".format(year - (month == 1), 12 if month == 1 else month - 1))
    return months


def history(root, clusters, now, count=36, exclude=()):
    """The History of these clusters over the `count` months ending now; users in `exclude` (opted out) are
    left out of both the totals and the players."""
    months = last_months(now, count)
    totals, players, problems = {}, {}, []
    for cluster in clusters:
        data = ClusterData(ClusterPaths(root, cluster))
        sums = totals[cluster] = {}
        for at, month in enumerate(months):
            try:
                rows = data.monthly_metrics(month)
            except (Damaged, OSError) as problem:
                problems.append(str(problem))
                continue
            _fold(rows, at, len(months), sums, players, exclude)
    return History(months, totals, players, problems)


def _fold(rows, at, count, sums, players, exclude):
    """Add one month's rows {user: {metric: value}} into the cluster's sums and the players' core-hours."""
    for user, row in rows.items():
        if user in exclude:
            continue
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sums.setdefault(key, [0] * count)[at] += value
        series = players.get(user)
        if series is None:
            series = players[user] = [0.0] * count
        series[at] += row.get("clock_hours", 0)

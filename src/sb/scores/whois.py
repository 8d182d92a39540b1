"""One player's standing: for every cluster and ALL, every window and every metric of a `tui --json` row, the
value, the rank N of M on that metric (value descending, ties by name) and the level."""
import bisect
import functools
from itertools import compress, repeat

from sb.scores.board import ALL, WINDOW_NAMES, eligible
from sb.scores.skills import ACHIEVEMENTS, COLUMN_OF, MAX_LEVEL, RATIOS, SCALE_OF, XP_TABLE, efficiency_level
from sb.store.counters import COLUMNS, COUNTERS, DERIVED, INDEX, METRICS, all_metrics, derived_columns
from sb.timeutil import iso_utc

# every metric key of a `tui --json` row, in its order (rank, the name and `users` are not metrics)
METRIC_KEYS = ("total_level", "total_xp") + METRICS + DERIVED
# the counters the derived figures are made of (store.counters.derived_columns)
_DERIVED_FROM = ("jobs", "cpu_s", "cpu_used_ms", "timelimit_s", "limited_elapsed_s", "wait_s", "req_mem_b_s",
                 "used_mem_b_s", "gpu_sampled_s", "gpu_busy_pct_s")


class Unknown(ValueError):
    """The user has no figures on any cluster (or opted out): nothing to show."""


def whois(scores, theme, user, now, min_core_hours=10):
    """{"user", "asof", "entries": [{cluster, window, metric, value, rank, of, level}]} for every cluster and
    ALL x every window x every metric. Ratios and waste rank only players with min_core_hours core-hours."""
    if user in scores.opted_out():
        raise Unknown("{} has opted out of the scoreboard: nothing of theirs is shown".format(user))
    if not any(user in scores.table([c], "alltime").column(0) for c in scores.clusters):
        raise Unknown("{}: no such player on any cluster under {} (no job counted)".format(user, scores.root))
    entries = []
    for cluster in scores.clusters + [ALL]:
        clusters = scores.clusters if cluster == ALL else [cluster]
        for window in WINDOW_NAMES:
            entries += standing_entries(scores, theme, user, clusters, cluster, window, min_core_hours)
    return {"user": user, "asof": iso_utc(now), "entries": entries}


def standing_entries(scores, theme, name, clusters, cluster, window, min_core_hours, by="user", table=None,
                     metrics=METRIC_KEYS):
    """One name's entries (value, rank N of M, level of each of `metrics`) on one board: the clusters summed,
    labelled `cluster`; a clan or partition is ranked among every group with a job, as on the board. `table`:
    another Table of the same board (scores.movement's, as it stood 7 days ago)."""
    if table is None:
        table = scores.table(clusters, window, by)
    if by == "user":
        ranked_names = eligible(table, scores.min_jobs(clusters, window), scores.opted_out())
    else:
        ranked_names = eligible(table, 1)
    columns = _Columns(table, ranked_names)
    values, core_s = columns.every_metric(theme, metrics), columns.get("cpu_s")
    counters = table.counters(name)
    mine = dict(all_metrics(counters), total_level=theme.total_level(counters), total_xp=theme.total_xp(counters))
    at = bisect.bisect_left(ranked_names, name)
    at = at if at < len(ranked_names) and ranked_names[at] == name else None
    floor = min_core_hours * 3600
    ratio_ranked = [c >= floor for c in core_s]    # a ratio or waste figure ranks only these
    out = []
    for metric in metrics:
        rank, of = _rank(values[metric], at, ratio_ranked if metric in DERIVED else None)
        out.append({"cluster": cluster, "window": window, "metric": metric, "value": mine[metric], "rank": rank,
                    "of": of, "level": _level(metric, mine[metric], theme, counters)})
    return out


def _rank(column, at, allowed=None):
    """(rank of the name at index `at` of the A-to-Z names, how many are ranked) on this column: value
    descending, ties by name; a None value (unknown), or False in `allowed`, is not ranked. In C loops
    (count, map), as one page ranks a name on some 80 figures among 10k."""
    if allowed is not None or None in column:
        keep = [v is not None and (allowed is None or allowed[n]) for n, v in enumerate(column)]
        ranked = list(compress(column, keep))
        if at is None or not keep[at]:
            return None, len(ranked)
        before = sum(keep[:at])         # the ranked names before this one, A to Z
        column, at = ranked, before
    if at is None:
        return None, len(column)
    mine = column[at]
    return 1 + sum(map(mine.__lt__, column)) + column[:at].count(mine), len(column)


def _level(metric, value, theme, counters):
    """A usage skill's OSRS level, an efficiency ratio's (skills.efficiency_level), else None (a plain column)."""
    if metric in ACHIEVEMENTS:
        return theme.level(metric, counters)
    if metric in RATIOS:
        return None if value is None else efficiency_level(value)
    return None


class _Columns:
    """The eligible players' counter columns as lists (A to Z), and every metric computed from them, column by
    column: at 10k players a metric per player through its whole counter row would take seconds."""

    def __init__(self, table, players):
        self.table, self.players = table, players
        self._lists = {}

    def get(self, name):
        found = self._lists.get(name)
        if found is None:
            column = self.table.column(INDEX[name])
            found = self._lists[name] = list(map(column.__getitem__, self.players))   # a Table's columns
            # all hold every name it has (the players are some of them), so this needs no default
        return found

    def every_metric(self, theme, metrics=METRIC_KEYS):
        """{metric: [value per player]} for these keys of METRIC_KEYS (only the columns they need are summed);
        a counter's metric as the integer counter itself (dividing by its scale keeps order and ties)."""
        wanted = set(metrics)
        values = {metric: self.get(name) for name, metric, _ in COUNTERS if metric in wanted}
        if wanted & {"total_xp", "total_level"}:
            xp = [[int(v * theme.xp_per_unit[m] / SCALE_OF[m] + 1e-6) for v in self.get(COLUMNS[COLUMN_OF[m]])]
                  for m in ACHIEVEMENTS]
            values["total_xp"] = list(map(sum, zip(*xp)))
            at_level = functools.partial(bisect.bisect_right, XP_TABLE)     # skills.level, in C loops
            levels = (map(min, map(at_level, points), repeat(MAX_LEVEL)) for points in xp)
            values["total_level"] = list(map(sum, zip(*levels)))
        if wanted & set(DERIVED):
            values.update(derived_columns({name: self.get(name) for name in _DERIVED_FROM}))
        return values

"""One player's standing: for every cluster and ALL, every window and every metric of a `tui --json` row, the
value, the rank N of M on that metric (value descending, ties by name) and the level."""
from sb.scores.board import ALL, WINDOW_NAMES, eligible
from sb.scores.skills import ACHIEVEMENTS, COLUMN_OF, RATIOS, SCALE_OF, efficiency_level, level
from sb.store.counters import COLUMNS, COUNTERS, DERIVED, INDEX, METRICS, WIDTH, all_metrics, derived
from sb.timeutil import iso_utc

# every metric key of a `tui --json` row, in its order (rank, the name and `users` are not metrics)
METRIC_KEYS = ("total_level", "total_xp") + METRICS + DERIVED
# the counters each derived figure is made of (store.counters.derived), so that it is computed per player
# from a handful of columns instead of from every counter of every player
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


def standing_entries(scores, theme, name, clusters, cluster, window, min_core_hours, by="user", table=None):
    """One name's entries (value, rank N of M, level of every metric) on one board: the clusters summed,
    labelled `cluster`; a clan or partition is ranked among every group with a job, as on the board. `table`:
    another Table of the same board (scores.movement's, as it stood 7 days ago)."""
    if table is None:
        table = scores.table(clusters, window, by)
    if by == "user":
        ranked_names = eligible(table, scores.min_jobs(clusters, window), scores.opted_out())
    else:
        ranked_names = eligible(table, 1)
    columns = _Columns(table, ranked_names)
    values, core_s = columns.every_metric(theme), columns.get("cpu_s")
    counters = table.counters(name)
    mine = dict(all_metrics(counters), total_level=theme.total_level(counters), total_xp=theme.total_xp(counters))
    at = {who: n for n, who in enumerate(ranked_names)}.get(name)
    floor = min_core_hours * 3600
    out = []
    for metric in METRIC_KEYS:
        column = values[metric]
        ranked = [n for n, v in enumerate(column) if v is not None and
                  (metric not in DERIVED or core_s[n] >= floor)]
        rank = None
        if at is not None and at in set(ranked):
            rank = 1 + sum(1 for n in ranked if column[n] > column[at] or (column[n] == column[at] and n < at))
        out.append({"cluster": cluster, "window": window, "metric": metric, "value": mine[metric], "rank": rank,
                    "of": len(ranked), "level": _level(metric, mine[metric], theme, counters)})
    return out


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
            found = self._lists[name] = [column.get(user, 0) for user in self.players]
        return found

    def every_metric(self, theme):
        """{metric: [value per player]} for every key of METRIC_KEYS."""
        values = {metric: [v if scale == 1 else v / scale for v in self.get(name)]
                  for name, metric, scale in COUNTERS}
        xp = [[int(v * theme.xp_per_unit[m] / SCALE_OF[m] + 1e-6) for v in self.get(COLUMNS[COLUMN_OF[m]])]
              for m in ACHIEVEMENTS]
        values["total_xp"] = [sum(points) for points in zip(*xp)]
        values["total_level"] = [sum(level(p) for p in points) for points in zip(*xp)]
        figures = [derived(_vector(row)) for row in zip(*(self.get(name) for name in _DERIVED_FROM))]
        values.update((metric, [f[metric] for f in figures]) for metric in DERIVED)
        return values


_AT = [INDEX[name] for name in _DERIVED_FROM]


def _vector(values):
    """A counter row holding just the counters the derived figures read (the rest 0)."""
    row = [0] * WIDTH
    for at, value in zip(_AT, values):
        row[at] = value
    return row

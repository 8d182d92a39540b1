"""One player's standing: for every cluster and ALL, every window and every metric of a `tui --json` row, the
value, the rank N of M on that metric (value descending, ties by name) and the level."""
from sb.scores.board import ALL, WINDOW_NAMES, eligible
from sb.scores.skills import ACHIEVEMENTS, COLUMN_OF, SCALE_OF, efficiency_level, level
from sb.store.counters import COLUMNS, DERIVED, INDEX, METRICS, SCALES, WIDTH, derived
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
            entries += _standing(scores, theme, user, clusters, cluster, window, min_core_hours)
    return {"user": user, "asof": iso_utc(now), "entries": entries}


def _standing(scores, theme, user, clusters, cluster, window, min_core_hours):
    table = scores.table(clusters, window)
    players = eligible(table, scores.min_jobs(clusters, window), scores.opted_out())
    columns = _Columns(table, players)
    core_hours = columns.get("cpu_s")
    out = []
    for metric in METRIC_KEYS:
        values = columns.metric(metric, theme)
        mine = _value_of(table, user, metric, theme)
        ranked = [n for n, v in enumerate(values) if v is not None and
                  (metric not in DERIVED or core_hours[n] >= min_core_hours * 3600)]
        rank = None
        if user in columns.position and columns.position[user] in set(ranked):
            at = columns.position[user]
            rank = 1 + sum(1 for n in ranked if values[n] > values[at] or (values[n] == values[at] and n < at))
        out.append({"cluster": cluster, "window": window, "metric": metric, "value": mine, "rank": rank,
                    "of": len(ranked), "level": _level(metric, mine, theme, table, user)})
    return out


def _value_of(table, user, metric, theme):
    counters = table.counters(user)
    if metric == "total_level":
        return theme.total_level(counters)
    if metric == "total_xp":
        return theme.total_xp(counters)
    if metric in DERIVED:
        return derived(counters)[metric]
    value = counters[INDEX[_column_name(metric)]]
    scale = _scale(metric)
    return value if scale == 1 else value / scale


def _level(metric, value, theme, table, user):
    """A usage skill's OSRS level, an efficiency's (skills.efficiency_level), else None (a plain column)."""
    if metric in ACHIEVEMENTS:
        return theme.level(metric, table.counters(user))
    if metric in ("cpu_efficiency", "mem_efficiency", "time_efficiency", "gpu_efficiency"):
        return None if value is None else efficiency_level(value)
    return None


def _column_name(metric):
    return COLUMNS[METRICS.index(metric)]


def _scale(metric):
    return SCALES[METRICS.index(metric)]


class _Columns:
    """The eligible players' counter columns as lists (A to Z), and every metric computed from them."""

    def __init__(self, table, players):
        self.table, self.players = table, players
        self.position = {user: n for n, user in enumerate(players)}
        self._lists = {}
        self._derived = None    # per player, its derived figures (made once: every ratio needs them)

    def get(self, name):
        found = self._lists.get(name)
        if found is None:
            column = self.table.column(INDEX[name])
            found = self._lists[name] = [column.get(user, 0) for user in self.players]
        return found

    def metric(self, metric, theme):
        if metric in ("total_level", "total_xp"):
            xp = [self._xp(m, theme) for m in ACHIEVEMENTS]
            if metric == "total_xp":
                return [sum(points) for points in zip(*xp)] if xp else []
            return [sum(level(p) for p in points) for points in zip(*xp)] if xp else []
        if metric in DERIVED:
            if self._derived is None:
                self._derived = [derived(_vector(row)) for row in zip(*(self.get(name) for name in _DERIVED_FROM))]
            return [figures[metric] for figures in self._derived]
        scale = _scale(metric)
        return [v if scale == 1 else v / scale for v in self.get(_column_name(metric))]

    def _xp(self, metric, theme):
        rate, scale = theme.xp_per_unit[metric], SCALE_OF[metric]
        return [int(v * rate / scale + 1e-6) for v in self.get(COLUMNS[COLUMN_OF[metric]])]


_AT = [INDEX[name] for name in _DERIVED_FROM]


def _vector(values):
    """A counter row holding just the counters the derived figures read (the rest 0)."""
    row = [0] * WIDTH
    for at, value in zip(_AT, values):
        row[at] = value
    return row

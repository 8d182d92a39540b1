"""Scores and monthly history → the page's data dict: every board as `tui --json` ranks it, cluster ages, charts."""
from sb.scores.board import ALL, STALE_POLLS, WINDOW_NAMES, board_document, standing_rows
from sb.scores.history import history
from sb.scores.skills import ACHIEVEMENTS, LABELS, MEMORY, METRIC_NAMES, level
from sb.timeutil import iso_utc

# What a board can be grouped by, in one place: rows keyed by that name (groups with a `users` count);
# everything below loops over this tuple and the rows' own keys.
BYS = ("user", "account", "partition")
NAME_KEYS = ("user", "account", "partition")
DEFAULT_SORT = "clock_hours"    # the board's default skill: core-hours
# rows per board: the index.html budget (4 MB at 5 clusters x 10k players) needs a cap; a site has hundreds
# of accounts, and every row carries two dozen exact figures
ROWS_SHOWN = {"user": 300, "account": 100, "partition": 100}
MONTHS = 36
TOP_PLAYERS, TOP_MONTHS = 10, 12
# (name, title, numerator, denominator) of a cluster's monthly efficiency, from the months' sums: memory
# used against requested over memory-sampled jobs, CPU time used against core-hours held.
EFFICIENCY = (("mem", "Memory efficiency: used / requested MB-hours", "used_mem_mb_hours", "req_mem_mb_hours"),
              ("cpu", "CPU efficiency: used / allocated core-hours", "cpu_used_hours", "clock_hours"))
PLAYER_EFFICIENCY = "cpu_efficiency"    # a row key (null when unknown): the histogram's input
PERCENT = 1.0                           # its value for 100 %: the rows' ratios are fractions


def page_data(scores, theme, poll_interval, now, workers=1):
    """Everything the page shows, as plain JSON-ready values; workers: processes that read the months."""
    boards = {}
    for window in WINDOW_NAMES:     # a window at a time: its tables are freed before the next is read
        for cluster in (ALL,) + tuple(scores.clusters):
            for by in BYS:
                boards[board_key(cluster, window, by)] = board_data(scores, theme, cluster, window, by, now)
        scores.release(window)
    keys = [board_key(c, w, by) for c in (ALL,) + tuple(scores.clusters) for w in WINDOW_NAMES for by in BYS]
    boards = {key: boards[key] for key in keys}     # the page lists them cluster by cluster
    sums = {"clock_hours", "gpu_clock_hours"} | {k for e in EFFICIENCY for k in e[2:]}
    past = history(scores.root, scores.clusters, now, sums, shown_players(boards), MONTHS, scores.opted_out(),
                   workers)
    return {"generated": iso_utc(now), "clusters": cluster_ages(scores, poll_interval, now),
            "windows": list(WINDOW_NAMES), "bys": list(BYS), "default": board_key(ALL, "alltime", "user"),
            "skills": skills(theme), "boards": boards,
            "charts": charts(past, boards, scores.clusters), "players": player_histories(past),
            "problems": sorted(scores.problems.values()) + list(theme.problems) + past.problems}


def board_key(cluster, window, by):
    return "{}/{}/{}".format(cluster, window, by)


def board_data(scores, theme, cluster, window, by, now):
    """One board's document (the same rows `tui --json` prints) as columns + rows of values, the name
    column, each achievement's level per row, and how many players it ranks in all."""
    ranked, table, min_jobs = standing_rows(scores, theme, cluster, window, DEFAULT_SORT, by=by)    # as standings()
    doc = board_document(ranked[:ROWS_SHOWN[by]], table, cluster, window, DEFAULT_SORT, min_jobs, now, theme, by)
    rows = doc["rows"]
    columns = in_board_order(list(rows[0]) if rows else [])
    levelled = [c for c in columns if c in ACHIEVEMENTS]
    return {"columns": columns, "name": next((k for k in NAME_KEYS if k in columns), None),
            "rows": [[row[c] for c in columns] for row in rows],
            "levels": [[level_of(theme, c, row[c]) for c in levelled] for row in rows], "levelled": levelled,
            "players": len(ranked), "min_jobs": doc["min_jobs"]}


def in_board_order(keys):
    """A row's keys as the board orders its columns (rank, name, level, XP, the skills); keys it does not
    know (collector v2's efficiency figures) follow in the document's order."""
    known = ("rank",) + NAME_KEYS + ("users", "total_level", "total_xp") + METRIC_NAMES
    return [k for k in known if k in keys] + [k for k in keys if k not in known]


def level_of(theme, metric, value):
    """The skill's level for a value in its unit (None stays unknown)."""
    return None if value is None else level(int(value * theme.xp_per_unit[metric] + 1e-6))


def skills(theme):
    """{column: {label, memory, achievement}} for the table headings and cell formats."""
    return {metric: {"label": LABELS[metric], "memory": metric in MEMORY, "achievement": metric in ACHIEVEMENTS}
            for metric in LABELS}


def cluster_ages(scores, poll_interval, now):
    """Each cluster's data age in seconds (None: never), stale by the board's rule, and its file trouble."""
    ages = []
    for cluster in scores.clusters:
        last = scores.data_time(cluster, "alltime")
        age = None if last is None else now - last
        ages.append({"name": cluster, "age": age, "stale": age is None or age > STALE_POLLS * poll_interval,
                     "trouble": scores.trouble(cluster)})
    return ages


def charts(past, boards, clusters):
    """The series of every chart; a chart whose data does not exist yet is None (the page says why)."""
    per_cluster = lambda key: {c: past.totals[c].get(key, [0] * len(past.months)) for c in clusters}  # noqa: E731
    board = boards[board_key(ALL, "365d", "user")]
    top = [dict(zip(board["columns"], row))["user"] for row in board["rows"][:TOP_PLAYERS]]
    return {"months": past.months, "core_hours": per_cluster("clock_hours"),
            "gpu_hours": per_cluster("gpu_clock_hours"),
            "top": {"months": past.months[-TOP_MONTHS:],
                    "series": {u: past.players.get(u, [])[-TOP_MONTHS:] for u in top}},
            "efficiency": {name: efficiency(past, clusters, title, top_key, bottom_key)
                           for name, title, top_key, bottom_key in EFFICIENCY},
            "clans": clans(boards), "cpu_histogram": histogram(boards[board_key(ALL, "alltime", "user")])}


def efficiency(past, clusters, title, top_key, bottom_key):
    """{title, series: {cluster: [percent or None per month]}}; None when no cluster's rollups hold top_key."""
    if not any(top_key in past.totals[c] for c in clusters):
        return None
    series = {}
    for cluster in clusters:
        tops = past.totals[cluster].get(top_key) or [0] * len(past.months)
        bottoms = past.totals[cluster].get(bottom_key) or [0] * len(past.months)
        series[cluster] = [100.0 * t / b if b else None for t, b in zip(tops, bottoms)]
    return {"title": title, "series": series}


def clans(boards):
    """Core-hours per account on the ALL/alltime board by account; None until boards by account exist."""
    board = boards.get(board_key(ALL, "alltime", "account"))
    if not board:
        return None
    at, hours = board["columns"].index("account"), board["columns"].index("clock_hours")
    return {row[at]: row[hours] for row in board["rows"]}


def histogram(board, bins=10):
    """Players per 10% band of CPU efficiency on a board; None when its rows carry no such value."""
    if PLAYER_EFFICIENCY not in board["columns"]:
        return None
    at = board["columns"].index(PLAYER_EFFICIENCY)
    values = [row[at] for row in board["rows"] if row[at] is not None]
    if not values:
        return None
    counts = [0] * bins
    for value in values:
        counts[min(int(value / PERCENT * bins), bins - 1)] += 1
    return counts


def shown_players(boards):
    """Every player a user board of the page shows: the ones with a player page."""
    shown = set()
    for key, board in boards.items():
        if key.endswith("/user") and board["rows"]:
            at = board["columns"].index("user")
            shown.update(row[at] for row in board["rows"])
    return shown


def player_histories(past):
    """{user: [core-hours per month]} for the player pages, rounded to 0.01 h (the page's size budget)."""
    return {user: [round(v, 2) for v in series] for user, series in sorted(past.players.items())}

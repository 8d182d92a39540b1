"""The 7-day movement files (store.leaderboards.moves_json) + a board → rank movement: the board as it
stood at the end of the UTC day 7 days before its own (its figures less what those days changed), ranked
by the same rules, against the board now. `+3`: three places up; `new`: ranked now, not then."""
from sb.scores.board import WINDOW_NAMES, eligible, standings_of
from sb.scores.boardfile import BY, load
from sb.store.counters import COLUMNS, WIDTH
from sb.store.layout import ClusterPaths


def parse_moves(path):
    """{window: {by: {name: delta counters}}} of a movement file; a one-line ValueError when damaged."""
    doc, _ = load(path)
    windows = doc.get("windows") if isinstance(doc, dict) else None
    try:
        return {window: {by: _rows(windows[window][by], by) for by in BY} for window in WINDOW_NAMES}
    except (KeyError, TypeError, ValueError):
        raise ValueError("{}: damaged movement file; the next poll rewrites it (or `slurm-sb rebuild`)".format(path))


def _rows(table, by):
    data = table["data"]
    if table["columns"] != [by] + list(COLUMNS) or len(data) != WIDTH + 1 or len({len(c) for c in data}) > 1 or \
            any(type(sum(column)) is not int for column in data[1:]):
        raise ValueError(by)
    return {name: list(row) for name, row in zip(data[0], zip(*data[1:]))}


def deltas(scores, clusters, window, by):
    """{name: counters} the window changed by in its last 7 days, summed over the clusters; None when a
    cluster has no movement file (written by an older collector, or damaged): movement is then unknown."""
    total = {}
    for cluster in clusters:
        moves = scores.cached(ClusterPaths(scores.root, cluster).moves, parse_moves)
        if moves is None:
            return None
        for name, row in moves[window][by].items():
            found = total.get(name)
            total[name] = row if found is None else [a + b for a, b in zip(found, row)]
    return total


class Then:
    """A board's Table as it stood 7 days before: every column less the deltas (a name whose jobs all came
    in the last 7 days has 0 jobs then, so it is not on that board)."""

    def __init__(self, table, changes):
        self.table, self.changes = table, changes
        self._columns = {}

    def column(self, index):
        found = self._columns.get(index)
        if found is None:
            found = dict(self.table.column(index))
            for name, row in self.changes.items():
                found[name] = found.get(name, 0) - row[index]
            self._columns[index] = found
        return found

    def counters(self, name):
        row = self.changes.get(name)
        now = self.table.counters(name)
        return now if row is None else [a - b for a, b in zip(now, row)]

    def users(self, name):
        return self.table.users(name)


def then_table(scores, clusters, window, by):
    """The Then table of this board, or None when its movement is unknown."""
    changes = deltas(scores, clusters, window, by)
    return None if changes is None else Then(scores.table(clusters, window, by), changes)


def move_text(now, then):
    """'+3', '-2', '=' (same place), 'new' (not ranked then), '' (not ranked now); past 99 places '+99'."""
    if now is None:
        return ""
    if then is None:
        return "new"
    step = then - now
    return "=" if step == 0 else "{:+d}".format(max(-99, min(99, step)))


def then_ranks(scores, theme, clusters, window, by, sort, min_core_hours=10):
    """{name: rank} on `sort` of the board as it stood 7 days ago (the same eligibility: min_jobs then,
    opt-outs now), or None when its movement is unknown."""
    then = then_table(scores, clusters, window, by)
    if then is None:
        return None
    if by == "user":
        names = eligible(then, scores.min_jobs(clusters, window), scores.opted_out())
    else:
        names = eligible(then, 1)
    return {name: rank for rank, name in standings_of(names, sort, then, theme, min_core_hours) if rank is not None}

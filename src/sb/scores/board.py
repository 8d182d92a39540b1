"""Stage 6, leaderboard files → board rows: every user's counters for a window of one cluster or ALL (summed
per user), filtered and ranked on any column; a refresh re-reads only the files whose mtime changed. Reading
one file is scores.boardfile's."""
import fnmatch
import glob
import os

from sb.optout import read_optout_file
from sb.scores.boardfile import Lines, parse_board, parse_json
from sb.scores.skills import COLUMN_OF
from sb.store.counters import DERIVED, INDEX, METRICS, WIDTH, all_metrics, derived
from sb.store.layout import WINDOWS, ClusterPaths
from sb.store.manifest import UPGRADE, efficiency_gap
from sb.timeutil import iso_utc

WINDOW_NAMES = tuple(name for name, _, _ in WINDOWS)
WINDOW_FILES = {name: filename for name, filename, _ in WINDOWS}
ALL = "ALL"
STALE_POLLS = 3     # a cluster is stale when its last poll is older than this many poll intervals


class Scores:
    """The shared root as the board sees it; every file is parsed once and kept until its mtime changes.

    A file that cannot be read is not fatal: its cluster shows no rows and `problems` says why."""

    def __init__(self, root):
        self.root = root
        self.problems = {}  # path → one line saying what is wrong with it and what to do
        self._trouble = {}  # path → "unreadable" (no permission) or "damaged file", for the cluster's age
        self._files = {}    # path → ((mtime_ns, size), parsed value or None when absent or bad)
        self._merged = {}   # (clusters, window) → (stamps it was made from, Table)
        self._paths = {}    # cluster → its ClusterPaths (made once: the board asks many times a frame)
        self.clusters = self._find_clusters()

    def _find_clusters(self):
        """Clusters with a leaderboard folder, and those whose folder we may not look into (so that the
        board says so instead of leaving them out)."""
        found = []
        for path in glob.glob(os.path.join(self.root, "clusters", "*")):
            try:
                os.stat(os.path.join(path, "agg", "leaderboards"))
            except PermissionError:
                pass
            except OSError:
                continue
            found.append(os.path.basename(path))
        return sorted(found)

    def trouble(self, cluster):
        """What is wrong with the files of this cluster read so far: "unreadable", "damaged file", the
        collector's self-healing at work ("repairing 2 months", "1 month kept short") or ""."""
        prefix = os.path.join(self.root, "clusters", cluster) + os.sep
        kinds = {kind for path, kind in self._trouble.items() if path.startswith(prefix)}
        if kinds:
            return "unreadable" if "unreadable" in kinds else "damaged file"
        return self._healing(cluster)

    def efficiency_gap(self, cluster):
        """"efficiency since 2025-03" when older months were counted without efficiency figures, else ""."""
        return efficiency_gap(self._read(self._cluster_paths(cluster).manifest, parse_json))

    def _healing(self, cluster):
        manifest = self._read(self._cluster_paths(cluster).manifest, parse_json)
        if not isinstance(manifest, dict):
            return ""
        owed, kept = manifest.get("repull") or {}, manifest.get("kept") or {}
        if owed and all(isinstance(entry, dict) and entry.get("why") == UPGRADE for entry in owed.values()):
            return "upgrading {} month{}".format(len(owed), "s" if len(owed) > 1 else "")
        if owed:
            return "repairing {} month{}".format(len(owed), "s" if len(owed) > 1 else "")
        if kept:
            return "{} month{} kept short".format(len(kept), "s" if len(kept) > 1 else "")
        return ""

    def refresh(self):
        """Stat every file read so far (and look for new clusters); True when anything changed."""
        clusters = self._find_clusters()
        changed = clusters != self.clusters
        self.clusters = clusters
        for path, (stamp, _) in list(self._files.items()):
            if _stamp(path) != stamp:
                del self._files[path]
                changed = True
        return changed

    def cached(self, path, parse):
        """parse(path), kept until the file's mtime changes; None when it is absent or bad (`problems` and
        trouble() say which)."""
        return self._read(path, parse)

    def _read(self, path, parse):
        stamp = _stamp(path)
        cached = self._files.get(path)
        if cached is None or cached[0] != stamp:
            self.problems.pop(path, None)
            self._trouble.pop(path, None)
            value = None
            if stamp == _DENIED:
                self._denied(path)
            elif stamp is not None:
                try:
                    value = parse(path)
                except PermissionError:
                    self._denied(path)
                except ValueError as problem:
                    self.problems[path] = str(problem)
                    self._trouble[path] = "damaged file"
                except OSError as problem:      # a directory where the file should be
                    self.problems[path] = "{}: cannot read ({}); check it".format(path, problem.strerror)
                    self._trouble[path] = "unreadable"
            cached = self._files[path] = (stamp, value)
        return cached[1]

    def _denied(self, path):
        self.problems[path] = "{}: permission denied; ask the collector's owner to make it group-readable " \
                              "(chmod -R g+rX on the root)".format(_first_denied(path))
        self._trouble[path] = "unreadable"

    def _board(self, cluster, window):
        path = self._board_path(cluster, window)
        return path, self._read(path, parse_board)

    def _board_path(self, cluster, window):
        return os.path.join(self._cluster_paths(cluster).boards_dir, WINDOW_FILES[window] + ".json")

    def _cluster_paths(self, cluster):
        paths = self._paths.get(cluster)
        if paths is None:
            paths = self._paths[cluster] = ClusterPaths(self.root, cluster)
        return paths

    def table(self, clusters, window, by="user"):
        """The window's Table of users (or accounts, or partitions: `by`) summed over these clusters, kept
        until one of their files changes."""
        boards = [self._board(c, window) for c in clusters]
        stamps = [self._files[path][0] for path, _ in boards]
        made = self._merged.get((tuple(clusters), window, by))
        if made is None or made[0] != stamps:
            tables = [b if by == "user" else b.groups[by] for _, b in boards if b]
            made = self._merged[tuple(clusters), window, by] = (stamps, Table(tables))
        return made[1]

    def release(self, window):
        """Forget the window's parsed files and sums (read again if asked): a one-shot reader that has done
        with a window (the report) keeps one window's tables in memory at a time, not three."""
        for cluster in self.clusters:
            self._files.pop(self._board_path(cluster, window), None)
        for key in [key for key in self._merged if key[1] == window]:
            del self._merged[key]

    def preload(self):
        """Read one file not read yet (another window's, mostly); False when there is none. The board calls
        this while idle, so that `w` later finds the files parsed."""
        for window in WINDOW_NAMES:
            for cluster in self.clusters:
                if self._board_path(cluster, window) not in self._files:
                    self._board(cluster, window)
                    return True
        return False

    def min_jobs(self, clusters, window):
        """The collectors' own min_jobs (the strictest when clusters differ), 3 when no file says."""
        values = [board.min_jobs for _, board in (self._board(c, window) for c in clusters) if board]
        return max(values) if values else 3

    def data_time(self, cluster, window):
        """When the cluster's data was last brought up to date: its last successful poll, else (a replay,
        a rebuild) when the window's leaderboard file was written; None when there is neither."""
        cursor = self._read(self._cluster_paths(cluster).cursor, parse_json)
        value = cursor.get("last_success") if isinstance(cursor, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e11:
            return value
        path, board = self._board(cluster, window)
        stamp = self._files[path][0]
        return stamp[0] / 1e9 if board and stamp else None

    def opted_out(self):
        return self._read(os.path.join(self.root, "config", "optout.txt"), read_optout_file) or set()


class Table:
    """One window's users summed over some clusters, read a column at a time: filtering and ranking need
    two of the ten counters (jobs, and the sort column), and whole counters only the rows on screen."""

    def __init__(self, boards):
        self._boards = boards   # Board or Group tuples: names and columns
        self._columns = {}      # column index → {user: value summed over the boards}
        self._counters = {}     # user → all counters, for the rows drawn so far
        self._index = None      # per board, user → position in its lists
        self._members = None    # group → its users over the boards (a group table's only)

    def column(self, index):
        summed = self._columns.get(index)
        if summed is None:
            summed = self._columns[index] = _sum_column(self._boards, index)
        return summed

    def counters(self, user):
        """A user's counters summed over the boards: a row whose counters are summed (and their columns
        parsed) when first read, so a usage page never parses the efficiency columns."""
        row = self._counters.get(user)
        if row is None:
            if self._index is None:
                self._index = [dict(zip(b.names, range(len(b.names)))) for b in self._boards]
            places = [(board.columns, index[user]) for board, index in zip(self._boards, self._index)
                      if user in index]
            row = self._counters[user] = Row(places)
        return row

    def users(self, name):
        """How many distinct users a group (account or partition) has over the boards: the union."""
        if self._members is None:
            self._members = {}
            for board in self._boards:
                for group, members in zip(board.names, board.members):
                    self._members.setdefault(group, set()).update(board.users[i] for i in members)
        return len(self._members.get(name, ()))


class Row:
    """A name's counters over some boards (a sequence of WIDTH integers), each summed when first read."""
    __slots__ = ("_places", "_values")

    def __init__(self, places):
        self._places = places           # [(a board's columns, the name's position in them)]
        self._values = [None] * WIDTH

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(WIDTH)[index]]
        value = self._values[index]
        if value is None:
            value = self._values[index] = sum(columns.value(index, at) if type(columns) is Lines else
                                              columns[index][at] for columns, at in self._places)
        return value

    def __len__(self):
        return WIDTH

    def __iter__(self):
        return (self[i] for i in range(WIDTH))

    def __eq__(self, other):
        return list(self) == list(other)

    def __repr__(self):
        return "Row({})".format(list(self))


def _sum_column(boards, index):
    if not boards:
        return {}
    summed = dict(zip(boards[0].names, boards[0].columns[index]))
    get = summed.get
    for board in boards[1:]:
        for user, value in zip(board.names, board.columns[index]):
            summed[user] = get(user, 0) + value
    return summed


_DENIED = ("permission denied",)     # the stamp of a file whose folder we may not look into


def _stamp(path):
    try:
        info = os.stat(path)
    except PermissionError:
        return _DENIED
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def _first_denied(path):
    """The outermost folder on the way to path that we may not enter (or path itself)."""
    parts = path.split(os.sep)
    for n in range(2, len(parts)):
        folder = os.sep.join(parts[:n])
        if folder and os.path.isdir(folder) and not os.access(folder, os.R_OK | os.X_OK):
            return folder
    return path


def eligible(table, min_jobs, exclude=()):
    """Users of the Table A to Z, leaving out those with fewer than min_jobs jobs and excluded users."""
    users = [u for u, jobs in table.column(0).items() if jobs >= min_jobs and u not in exclude]
    users.sort()
    return users


def only(ranked, table, pattern=None, minimum=None):
    """Ranked rows [(rank, user)] whose name matches the shell pattern and whose counter reaches
    minimum = (metric, smallest counter value); ranks stay the standings among everyone."""
    if pattern:
        ranked = [row for row in ranked if fnmatch.fnmatchcase(row[1], pattern)]
    if minimum:
        column, floor = table.column(COLUMN_OF[minimum[0]]), minimum[1]
        ranked = [row for row in ranked if column[row[1]] >= floor]
    return ranked


def ranking(users, key, table, level_of=None):
    """Eligible users (A to Z) best first on key: a metric (highest first), "level" (total level, via
    level_of on their counters) or "user" (A to Z); the sort is stable, so ties stay A to Z."""
    if key == "user":
        return users
    if key == "level":
        return sorted(users, key=lambda user: level_of(table.counters(user)), reverse=True)
    return sorted(users, key=table.column(COLUMN_OF[key]).__getitem__, reverse=True)


def row_keys(by="user"):
    """The keys of a board_document row, in order."""
    return ("rank", by) + (("users",) if by != "user" else ()) + ("total_level", "total_xp") + METRICS + DERIVED


def efficiency_ranking(users, key, table, min_core_hours):
    """Eligible users (A to Z) on an efficiency or waste figure: (ranked best first, unranked A to Z). Ranked
    are those whose figure is known and who used at least min_core_hours core-hours in the window, so a
    one-minute job cannot top a ratio board."""
    core = table.column(INDEX["cpu_s"])
    values = {user: derived(table.counters(user))[key] for user in users}
    floor = min_core_hours * 3600
    ranked = [u for u in users if values[u] is not None and core[u] >= floor]
    ranked.sort(key=values.__getitem__, reverse=True)       # stable: ties stay A to Z
    chosen = set(ranked)
    return ranked, [u for u in users if u not in chosen]


def board_document(rows, table, cluster, window, metric, min_jobs, now, theme, by="user"):
    """The ranking [(rank, name)] as JSON for scripts: every metric in its spec unit, the efficiency figures
    (None when unknown), and the total level; group rows also carry their `users`."""
    def row(n, name):
        counters = table.counters(name)
        head = [("rank", n), (by, name)] + ([("users", table.users(name))] if by != "user" else [])
        head += [("total_level", theme.total_level(counters)), ("total_xp", theme.total_xp(counters))]
        return dict(head, **all_metrics(counters))
    return {"asof": iso_utc(now), "cluster": cluster, "window": window, "by": by, "metric": metric,
            "min_jobs": min_jobs if by == "user" else 1, "rows": [row(n, name) for n, name in rows]}
def standings_of(users, sort, table, theme, min_core_hours=10):
    """Eligible names (A to Z) → [(rank, name)] best first on `sort`. On an efficiency or waste figure those
    below min_core_hours core-hours (or with the figure unknown) follow, unranked: (None, name)."""
    if sort in DERIVED:
        best, unranked = efficiency_ranking(users, sort, table, min_core_hours)
        return list(enumerate(best, 1)) + [(None, name) for name in unranked]
    return list(enumerate(ranking(users, sort, table, theme.total_level), 1))


def standing(standings, table, descending, sort, pattern=None, minimum=None):
    """[(rank, name)] best first as the rows a board shows: --user and a filter's minimum hide rows but keep
    everyone's standing, and descending=False on a metric (or True on "user") reverses them."""
    rows = only(standings, table, pattern, minimum)
    best_is_descending = sort != "user"     # the best name is the first, A to Z
    return rows if descending == best_is_descending else rows[::-1]


def standings(scores, theme, cluster, window, sort, now, descending=None, pattern=None, limit=None, by="user",
              min_core_hours=10):
    """One board as the JSON document `tui --json` prints and the report shows: the same rows, by the same
    functions, so the two cannot drift. cluster is a cluster's name or ALL; sort a metric, "level" or "user"."""
    rows, table, min_jobs = standing_rows(scores, theme, cluster, window, sort, descending, pattern, by,
                                          min_core_hours)
    return board_document(rows[:limit], table, cluster, window, sort, min_jobs, now, theme, by)


def standing_rows(scores, theme, cluster, window, sort, descending=None, pattern=None, by="user", min_core_hours=10):
    """The first half of standings(): every ranked row [(rank, name)], the Table and min_jobs (the report
    needs the count of rows before its cap)."""
    table, min_jobs, names = players(scores, cluster, window, by)
    rows = standing(standings_of(names, sort, table, theme, min_core_hours), table,
                    sort != "user" if descending is None else descending, sort, pattern)
    return rows, table, min_jobs


def players(scores, cluster, window, by="user"):
    """(Table, min_jobs, the names on the board A to Z) of a cluster or ALL for a window: players with
    min_jobs jobs who did not opt out, or every account or partition with a job (`by`)."""
    clusters = scores.clusters if cluster == ALL else [cluster]
    table = scores.table(clusters, window, by)
    if by != "user":     # opted-out users were never counted in a group
        return table, 1, eligible(table, 1)
    min_jobs = scores.min_jobs(clusters, window)
    return table, min_jobs, eligible(table, min_jobs, scores.opted_out())


def check_root(root):
    """Why a root cannot be shown, in words that tell the cases apart (ValueError), or None."""
    clusters = os.path.join(root, "clusters")
    if not os.path.isdir(root):
        return "the root {} does not exist: check --root (or 'root' in the config)".format(root)
    try:
        names = os.listdir(clusters)
    except FileNotFoundError:
        return "no clusters under {}: a collector's first poll creates them; check --root (or 'root' in " \
               "the config)".format(clusters)
    except OSError as err:
        return "permission denied reading {} ({}): ask the collector's owner to make it group-readable".format(
            clusters, err.strerror)
    if not names:
        return "no clusters under {}: a collector's first poll creates them; check --root (or 'root' in " \
               "the config)".format(clusters)
    return None

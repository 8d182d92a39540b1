"""The board's controller: scores on disk + view state + key presses → scenes for a front end to draw, and the
choice of front end (curses, Textual, or the one-shot ANSI table and JSON)."""
import math
import os
import re
import sys
from fractions import Fraction

from sb.scores.board import ALL, STALE_POLLS, WINDOW_NAMES, Scores, check_root, eligible, standing, standings_of
from sb.scores.live import now_playing
from sb.scores.movement import then_ranks
from sb.scores.skills import (ACHIEVEMENTS, EFFICIENCY_NAMES, LABELS, MEMORY, METRIC_NAMES, PAGE_SKILLS, SCALE_OF,
                              load_theme)
from sb.ui.view import (MOVES_PENDING, SORT_KEYS, Scene, View, age_text, body_height, column_at, page_keys,
                        scroll_top)

_WINDOW_WORDS = {"alltime": "all time", "30d": "the last 30 days", "365d": "the last 365 days"}

# key name (as front ends report them) → action; printable keys are their own character.
KEYMAP = {
    "q": "quit", "Q": "quit", "F10": "quit", "F1": "help", "F3": "search", "F4": "filter", "F6": "sort",
    "u": "me", "TAB": "next_column", "RIGHT": "next_column", "BTAB": "previous_column",
    "LEFT": "previous_column", "s": "sort", "m": "metric", "w": "window", "g": "cluster", "/": "search",
    "f": "filter", "r": "refresh", "v": "view", "p": "page", "?": "help", "UP": "up", "k": "up", "DOWN": "down", "j": "down",
    "PGUP": "page_up", "PGDN": "page_down", " ": "page_down", "HOME": "home", "END": "end",
    "n": "next_match", "N": "previous_match", "ESC": "escape", "ENTER": "open",
}
# in the help page: these scroll it, these close it; every other key is ignored there
HELP_KEYS = {"UP": -1, "k": -1, "DOWN": 1, "j": 1, "PGUP": -10, "PGDN": 10, " ": 10, "HOME": -10 ** 6,
             "END": 10 ** 6}
HELP_CLOSE = ("q", "Q", "ESC", "?", "F1", "F10")
# on a player page: these close it (F10 quits), Tab and the arrows beside it pick the history's skill
PAGE_CLOSE = ("q", "Q", "ESC", "BACKSPACE")
PAGE_SKILL_KEYS = {"TAB": 1, "RIGHT": 1, "m": 1, "BTAB": -1, "LEFT": -1}


class Moves:
    """The cursor's moves for a Session: rows, pages, ends, matches, yourself, and the mouse (it needs
    rows(), view, height and _chosen from the Session)."""

    def _me(self):
        """Jump to yourself ($USER)."""
        rows = self.rows()
        at = next((n for n, row in enumerate(rows) if row[1] == self.me), None)
        if at is None:
            self.view.message = "you ({}) are not on this board".format(self.me) if self.me else \
                "$USER is not set: who are you?"
            return
        self._move(at)

    def click(self, x, y, width, glyphs="unicode"):
        """A mouse click at screen cell (x, y): a column title sorts by it, a row selects it."""
        if self.view.mode != "table":
            return
        ages_line = 1 if self.height >= 11 else 0
        header = 3 + ages_line
        if y == header:
            key = column_at(self.scene(), self.view, width, x, glyphs)
            if key:
                self.view.column = SORT_KEYS.index(key)
                self._sort()
        elif header < y <= header + body_height(self.height):
            index = scroll_top(self.view, len(self.rows()), body_height(self.height)) + y - header - 1
            if index < len(self.rows()):
                self._move(index)

    def wheel(self, step):
        """The mouse wheel: three rows a notch, or the help or player page."""
        if self.view.mode in ("help", "player"):
            self.view.help_top = max(0, self.view.help_top + 3 * step)
        elif self.view.mode == "table":
            self._move(self.view.cursor + 3 * step)

    def _move(self, to):
        rows = self.rows()
        self.view.cursor = max(0, min(to, len(rows) - 1))
        if rows:
            self._chosen = rows[self.view.cursor][1]
        self._scroll()

    def _scroll(self):
        self.view.top = scroll_top(self.view, len(self.rows()), body_height(self.height))

    def _up(self):
        self._move(self.view.cursor - 1)

    def _down(self):
        self._move(self.view.cursor + 1)

    def _page_up(self):
        self._move(self.view.cursor - body_height(self.height))

    def _page_down(self):
        self._move(self.view.cursor + body_height(self.height))

    def _home(self):
        self._move(0)

    def _end(self):
        self._move(len(self.rows()) - 1)

    def _next_match(self, step=1, start=None):
        rows, text = self.rows(), self.view.search.lower()
        if not text or not rows:
            return
        first = self.view.cursor + step if start is None else start
        for offset in range(len(rows)):
            index = (first + step * offset) % len(rows)
            if text in rows[index][1].lower():
                self._move(index)
                return
        self.view.message = "no user matches {!r}".format(self.view.search)

    def _previous_match(self):
        self._next_match(-1)


class Switches:
    """What the rows are and which skills show, for a Session (it needs view, show_efficiency and
    _keeping_cursor): v for players, clans or partitions, p for the usage or the efficiency page."""

    def _view(self):
        def change():
            order = ("user", "account", "partition")
            self.view.by = order[(order.index(self.view.by) + 1) % len(order)]
            self._chosen = None     # a clan is not a player: the first row is selected
        self._keeping_cursor(change)

    def _page(self):
        """Flip between the usage skills and the efficiency and waste skills; the selection moves to the
        first skill of the page (the ranking stays until s sorts on it)."""
        view = self.view
        if not self.show_efficiency:
            view.message = "efficiency and waste are hidden on this site (show_efficiency: false)"
            return
        view.page = "efficiency" if view.page == "usage" else "usage"
        view.column = SORT_KEYS.index(page_keys(view.page)[2])



class PlayerPages:
    """Enter's page of the selected row, for a Session (it needs rows(), view, scores, theme, clock,
    min_core_hours, show_efficiency and _cluster): opening it, its keys, and reading it again."""

    def _open(self):
        """Enter: the selected row's page (a player's, a clan's or a partition's) on this cluster or ALL."""
        rows = self.rows()
        if not 0 <= self.view.cursor < len(rows):
            self.view.message = "nobody is selected: no page to open"
            return
        self._chosen = rows[self.view.cursor][1]
        self.player = self._read_page(self._chosen)
        self.view.mode, self.view.help_top = "player", 0
        if self.view.sort in PAGE_SKILLS:
            self.view.player_metric = self.view.sort

    def _read_page(self, name):
        from sb.scores.player import player_page     # here: the first frame need not import the page's modules
        return player_page(self.scores, self.theme, name, self.view.cluster, self.view.by, self.clock(),
                           self.min_core_hours, stale_after=STALE_POLLS * self.poll_interval)

    def _page_key(self, key):
        """A key on a player page; False when the board should close (F10)."""
        view = self.view
        if key == "F10":
            return False
        if key in PAGE_CLOSE:
            view.mode, self.player = "table", None
        elif key in HELP_KEYS:
            view.help_top = max(0, view.help_top + HELP_KEYS[key])
        elif key in PAGE_SKILL_KEYS:
            skills = PAGE_SKILLS if self.show_efficiency else ACHIEVEMENTS
            at = skills.index(view.player_metric) if view.player_metric in skills else -1
            view.player_metric = skills[(at + PAGE_SKILL_KEYS[key]) % len(skills)]
        elif key == "g":
            self._cluster()
            self.player = self._read_page(self.player.name)
        return True


class Prompts:
    """The search and filter prompts, for a Session (it needs view, scores, _next_match and _keeping_cursor):
    typing at them, and what Enter on a filter sets."""

    def _search(self):
        self.view.mode, self.view.typed = "search", ""

    def _filter(self):
        self.view.mode, self.view.typed = "filter", ""

    def _escape(self):
        self.view.search = ""

    def _type(self, key):
        """A key at the search or filter prompt."""
        view = self.view
        if key == "ESC":
            if view.mode == "search":
                view.search = ""
            view.mode = "table"
        elif key == "ENTER":
            if view.mode == "filter":
                self._apply_filter(view.typed)
            view.mode = "table"
        elif key == "BACKSPACE":
            view.typed = view.typed[:-1]
        elif key == "CTRL_U":
            view.typed = ""
        elif len(key) == 1 and key.isprintable():
            view.typed += key
        else:
            return
        if view.mode == "search":
            view.search = view.typed
            self._next_match(start=0)

    def _apply_filter(self, text):
        try:
            clusters, minimum = parse_filter(text, self.scores.clusters, self.view.sort)
        except ValueError as problem:
            self.view.message = str(problem)
            return
        def change():
            self.clusters_filter, self.minimum = clusters, minimum
            self.view.filter_text = text.strip()
            if not text.strip():        # an empty filter clears everything that hides rows, --user too
                self.pattern = None
        self._keeping_cursor(change)


class Extras:
    """The 7-day movement and Now columns, for a Session (it needs view, scores, theme, table(), clusters()
    and min_core_hours): what they show, and the movement worked out at an idle moment on the curses board."""

    def then_ranks(self):
        """{name: rank} on the sorted skill 7 days ago, for the movement column; None: no column. With
        defer_moves (the curses board) a new ranking's is left for an idle moment (idle_work), so that a key
        is not slowed by it: meanwhile the column is there but blank (MOVES_PENDING)."""
        view = self.view
        if not self.show_moves or view.sort == "user":
            return None
        if self._moves_key() != self._then_key:
            if self.defer_moves and self._then_key is not None:
                self._then_wanted = True
                return MOVES_PENDING if self._then is not None else None
            self._work_out_moves()
        return self._then

    def _moves_key(self):
        return self.table(), self.view.sort, self.view.window, self.view.by, tuple(self.clusters())

    def _work_out_moves(self):
        view = self.view
        self._then = then_ranks(self.scores, self.theme, self.clusters(), view.window, view.by, view.sort,
                                self.min_core_hours)
        self._then_key = self._moves_key()

    def has_idle_work(self):
        return self._then_wanted

    def idle_work(self):
        """Work left for an idle moment (the movement column of a new ranking); True when the frame changed."""
        if not self._then_wanted:
            return False
        self._then_wanted = False
        if self.show_moves and self.view.sort != "user" and self._moves_key() != self._then_key:
            self._work_out_moves()
        return True

    def live(self, playing):
        """{user: running, pending, CPUs, GPUs} of those running now on the fresh snapshots (scores.live.Now)
        of the clusters shown (players only; opted-out users never), or None when nobody is: no Now column."""
        if self.view.by != "user":
            return None
        out = self.scores.opted_out()
        running = {user: entry for user, entry in playing.users.items() if entry["running"] and user not in out}
        return running or None


class Session(Moves, Switches, PlayerPages, Prompts, Extras):
    """One open board: what is on disk, what the user asked to see, and the rows that makes."""

    def __init__(self, scores, theme, view, clock, poll_interval=600, pattern=None, tip=False, me=None,
                 min_core_hours=10, show_efficiency=True):
        self.scores, self.theme, self.view, self.clock = scores, theme, view, clock
        self.show_efficiency = show_efficiency  # false: the site hides the efficiency page
        self.min_core_hours = min_core_hours    # efficiency_min_core_hours: who ranks on a ratio
        self.poll_interval, self.pattern, self.tip, self.me = poll_interval, pattern, tip, me
        self._chosen = None             # the selected user, kept while a window or filter does not show them
        self.clusters_filter = None     # clusters ALL sums, from the filter (None: every cluster)
        self.minimum = None             # (metric, smallest counter value), from the filter
        self.height = 24
        self._rows = self._eligible = None
        self._rows_key = self._eligible_key = None
        self._name_width = 0            # the longest name among the rows, for the user column
        self.player = None              # the open player page (scores.player.Page)
        self.show_moves = True          # the 7-day movement column (curses: once the files are preloaded)
        self.defer_moves = False        # curses: a new ranking's movement waits for an idle moment
        self._then = self._then_key = None
        self._then_wanted = False

    # ---- what is shown ----------------------------------------------------------------------

    def clusters(self):
        if self.view.cluster != ALL:
            return [self.view.cluster]
        return [c for c in self.scores.clusters if not self.clusters_filter or c in self.clusters_filter]

    def rows(self):
        """[(rank, user)] in display order; rank is the standing on the sort column, best first."""
        view, clusters = self.view, self.clusters()
        table = self.table()
        if view.by == "user":
            min_jobs, opted_out = self.scores.min_jobs(clusters, view.window), self.scores.opted_out()
        else:   # every group with a job is on its board; opted-out users were never counted in it
            min_jobs, opted_out = 1, frozenset()
        # the Table object is new whenever one of its files changed; holding it here keeps that test exact
        players = (table, min_jobs, opted_out)
        if players != self._eligible_key:   # who is on the board, A to Z; re-sorting needs only this
            self._eligible = eligible(table, min_jobs, opted_out)
            self._eligible_key = players
        key = players + (view.sort, view.descending, self.pattern, self.minimum)
        if key != self._rows_key:
            # on an efficiency figure, those below the core-hours floor are shown greyed and unranked
            self._rows = standing(standings_of(self._eligible, view.sort, table, self.theme, self.min_core_hours),
                                  table, view.descending, view.sort, self.pattern, self.minimum)
            self._rows_key = key
            self._name_width = max((len(user) for _, user in self._rows), default=0)
        return self._rows

    def table(self):
        return self.scores.table(self.clusters(), self.view.window, self.view.by)

    def scene(self):
        rows, clusters, now = self.rows(), self.clusters(), self.clock()
        playing = now_playing(self.scores, clusters, now, STALE_POLLS * self.poll_interval)
        old_squeue = dict(playing.stale)
        ages = []
        for cluster in clusters:
            last = self.scores.data_time(cluster, self.view.window)
            age = None if last is None else now - last
            squeue = "squeue stale: {}".format(age_text(old_squeue[cluster])) if cluster in old_squeue else ""
            ages.append((cluster, age, age is None or age > STALE_POLLS * self.poll_interval,
                         self.scores.trouble(cluster), self.scores.efficiency_gap(cluster), squeue))
        problems = sorted(self.scores.problems.values()) + list(self.theme.problems)
        table = self.table()
        return Scene(rows, len(rows), table.counters, clusters, ages, problems, self.theme, self.tip,
                     self._name_width, self.pattern, "" if rows else self.why_empty(), self.view.by,
                     table.users if self.view.by != "user" else None, self.view.page, self.min_core_hours * 3600,
                     self.player, self.show_efficiency, self.then_ranks(), self.live(playing))

    def why_empty(self):
        """Why the board shows nobody: every player hidden by --user or the filter, or nobody with min_jobs."""
        if self._eligible:
            hiding = []
            if self.pattern:
                hiding.append("--user {!r}".format(self.pattern))
            if self.minimum or self.clusters_filter:
                hiding.append("the filter {!r}".format(self.view.filter_text))
            return "no players: {} {} all {:,} players; f then Enter on an empty line clears".format(
                " and ".join(hiding) or "the filter", "hide" if len(hiding) > 1 else "hides", len(self._eligible))
        clusters = self.clusters()
        if not clusters:
            return "no players: no cluster left by the filter; f then Enter clears"
        troubled = ["{} ({})".format(c, self.scores.trouble(c)) for c in clusters if self.scores.trouble(c)]
        if troubled:
            return "no players: cannot read {}; the message below (or on ?) says what to do".format(
                ", ".join(troubled))
        return "no players: nobody has {} or more jobs in {} on {}".format(
            self.scores.min_jobs(clusters, self.view.window), _WINDOW_WORDS[self.view.window], "+".join(clusters))

    def refresh(self):
        """Re-read what changed on disk (and the open page with it); True when the frame must be redrawn."""
        changed = self.scores.refresh()
        if changed:
            self._then_key = None
        if changed and self.player is not None:
            self.player = self._read_page(self.player.name)
        return changed

    # ---- keys --------------------------------------------------------------------------------

    def press(self, key):
        """Apply one key; False when the board should close."""
        view = self.view
        if view.mode in ("search", "filter"):
            self._type(key)
            return True
        view.message = ""
        if view.mode == "help":
            if key in HELP_CLOSE:
                view.mode = "table"
            elif key in HELP_KEYS:
                view.help_top = max(0, view.help_top + HELP_KEYS[key])
            return True
        if view.mode == "player":
            return self._page_key(key)
        action = KEYMAP.get(key)
        if action == "quit":
            return False
        if action:
            getattr(self, "_" + action)()
        return True

    def _next_column(self, step=1):
        keys = page_keys(self.view.page)
        at = keys.index(SORT_KEYS[self.view.column]) if SORT_KEYS[self.view.column] in keys else -step
        self.view.column = SORT_KEYS.index(keys[(at + step) % len(keys)])

    def _previous_column(self):
        self._next_column(-1)

    def _keeping_cursor(self, change):
        """Change what is shown and keep the selected user selected: if a window or filter does not show
        them, the first row is selected meanwhile, and they are again when a later change shows them."""
        rows = self.rows()
        if 0 <= self.view.cursor < len(rows) and rows[self.view.cursor][1] != self._chosen:
            self._chosen = rows[self.view.cursor][1]
        change()
        rows = self.rows()
        self.view.cursor = next((n for n, row in enumerate(rows) if row[1] == self._chosen), 0)
        self._scroll()

    def _sort(self):
        def change():
            selected = SORT_KEYS[self.view.column]
            if selected == self.view.sort:
                self.view.descending = not self.view.descending
            else:
                self.view.sort, self.view.descending = selected, selected != "user"
        self._keeping_cursor(change)

    def _metric(self):
        def change():
            sort = self.view.sort
            metric = METRIC_NAMES[(METRIC_NAMES.index(sort) + 1) % len(METRIC_NAMES)] if sort in METRIC_NAMES \
                else METRIC_NAMES[0]
            self.view.sort, self.view.descending, self.view.column = metric, True, SORT_KEYS.index(metric)
        self._keeping_cursor(change)

    def _window(self):
        def change():
            self.view.window = WINDOW_NAMES[(WINDOW_NAMES.index(self.view.window) + 1) % len(WINDOW_NAMES)]
        self._keeping_cursor(change)

    def _cluster(self):
        def change():
            choices = [ALL] + self.scores.clusters
            current = choices.index(self.view.cluster) if self.view.cluster in choices else -1
            self.view.cluster = choices[(current + 1) % len(choices)]
        self._keeping_cursor(change)

    def _refresh(self):
        self.refresh()
        self.view.message = "re-read the files"

    def _help(self):
        self.view.mode, self.view.help_top = "help", 0

_MINIMUM = re.compile(r"^([a-z_-]*)(>=|>)([0-9]{1,15}(?:\.[0-9]{1,9})?)([kmgtp]?)$")
SUFFIXES = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12, "p": 10 ** 15}
MEMORY_SUFFIXES = {"": 1, "k": Fraction(1, 1024), "m": 1, "g": 1024, "t": 1024 ** 2, "p": 1024 ** 3}  # of MB, as shown
_BY_NAME = dict({m: m for m in METRIC_NAMES}, **{LABELS[m].lower(): m for m in METRIC_NAMES})
_SORTABLE = dict(_BY_NAME, **{m: m for m in EFFICIENCY_NAMES}, **{LABELS[m].lower(): m for m in EFFICIENCY_NAMES})


def parse_filter(text, clusters, sort):
    """'hammer negishi >=100' → ({clusters} or None, (metric, smallest counter) or None); a bad word is a
    ValueError saying what was expected."""
    chosen, minimum = set(), None
    for word in text.replace(",", " ").split():
        if word in clusters:
            chosen.add(word)
            continue
        match = _MINIMUM.match(word.lower())
        if not match:
            raise ValueError("filter: {!r} is neither a cluster ({}) nor a minimum like >=100 or jobs>=10".format(
                word, ", ".join(clusters) or "none yet"))
        name, operator, number, suffix = match.groups()
        metric = _BY_NAME.get(name) if name else (sort if sort in METRIC_NAMES else None)
        if metric is None:
            raise ValueError("filter: {!r}: name a skill ({}) before {}".format(
                word, ", ".join(LABELS[m].lower() for m in METRIC_NAMES), operator))
        value = Fraction(number)            # exact: 2.007k must be 2007 jobs, not 2007.0000000000002
        counter = value * (MEMORY_SUFFIXES if metric in MEMORY else SUFFIXES)[suffix] * SCALE_OF[metric]
        smallest = math.floor(counter) + 1 if operator == ">" else math.ceil(counter)
        minimum = (metric, smallest)
    return (chosen or None), minimum


# ---- front ends --------------------------------------------------------------------------------

def textual_available():
    if sys.version_info < (3, 9):
        return False
    import importlib.util
    return importlib.util.find_spec("textual") is not None


class UsageError(ValueError):
    """A bad option value: the command line's fault (exit status 2), said in one line."""
    usage = True


# what --sort, --metric and the filter accept for a column: internal names and the titles on screen
COLUMN_NAMES = dict(_SORTABLE, user="user", name="user", level="level", total="level")


def column_named(text):
    """'gpu-h', 'GPU-h', 'gpu_clock_hours', 'total' → the column's key; None when it names none."""
    return COLUMN_NAMES.get(text.strip().lower())


def open_session(args, settings, clock, env=None):
    env = os.environ if env is None else env
    problem = check_root(settings.root)
    if problem:
        raise ValueError(problem)
    scores = Scores(settings.root)
    if args.cluster != ALL and args.cluster not in scores.clusters:
        raise UsageError("--cluster {}: no such cluster under {} (found: {})".format(
            args.cluster, os.path.join(settings.root, "clusters"), ", ".join(scores.clusters) or "none"))
    option = "--sort" if args.sort else "--metric"
    name, _, order = (args.sort or args.metric).partition(":")
    sort = column_named(name)
    if sort is None or order not in ("", "asc", "desc") or (option == "--metric" and sort not in METRIC_NAMES):
        raise UsageError("{} {}: expected {}, one of {}".format(
            option, args.sort or args.metric, "COL[:asc|desc]" if args.sort else "a skill",
            ", ".join(["user", "level"] * (option == "--sort") + [LABELS[m].lower() for m in METRIC_NAMES])))
    if not 0.2 <= args.refresh_sec <= 86400:
        raise UsageError("--refresh-sec {:g}: expected seconds between 0.2 and 86400".format(args.refresh_sec))
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit {}: expected 0 or more rows".format(args.limit))
    if not scores.clusters:
        raise ValueError("no cluster under {} has a leaderboard yet (agg/leaderboards): a collector's first poll "
                         "writes them".format(os.path.join(settings.root, "clusters")))
    view = View(args.cluster, args.window, sort, order == "desc" if order else sort != "user")
    view.by = getattr(args, "by", "user")
    if sort in EFFICIENCY_NAMES and settings.show_efficiency:
        view.page = "efficiency"
    return Session(scores, load_theme(settings.root), view, clock, settings.poll_interval_sec, args.user,
                   tip=sys.version_info >= (3, 9) and not textual_available(), me=env.get("USER"),
                   min_core_hours=settings.efficiency_min_core_hours, show_efficiency=settings.show_efficiency)

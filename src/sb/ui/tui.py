"""The board's controller: scores on disk + view state + key presses → scenes for a front end to draw, and the
choice of front end (curses, Textual, or the one-shot ANSI table and JSON)."""
import math
import os
import re
import sys
from fractions import Fraction

from sb.scores.board import ALL, WINDOW_NAMES, Scores, eligible, only, ranking
from sb.scores.skills import LABELS, MEMORY, METRIC_NAMES, SCALE_OF, load_theme
from sb.ui.view import SORT_KEYS, Scene, View, body_height, scroll_top

# key name (as front ends report them) → action; printable keys are their own character.
KEYMAP = {
    "q": "quit", "Q": "quit", "TAB": "next_column", "RIGHT": "next_column", "BTAB": "previous_column",
    "LEFT": "previous_column", "s": "sort", "m": "metric", "w": "window", "g": "cluster", "/": "search",
    "f": "filter", "r": "refresh", "?": "help", "UP": "up", "k": "up", "DOWN": "down", "j": "down",
    "PGUP": "page_up", "PGDN": "page_down", " ": "page_down", "HOME": "home", "END": "end",
    "n": "next_match", "N": "previous_match", "ESC": "escape",
}
STALE_POLLS = 3     # a cluster is stale when its last poll is older than this many poll intervals


class Session:
    """One open board: what is on disk, what the user asked to see, and the rows that makes."""

    def __init__(self, scores, theme, view, clock, poll_interval=600, pattern=None, tip=False):
        self.scores, self.theme, self.view, self.clock = scores, theme, view, clock
        self.poll_interval, self.pattern, self.tip = poll_interval, pattern, tip
        self.clusters_filter = None     # clusters ALL sums, from the filter (None: every cluster)
        self.minimum = None             # (metric, smallest counter value), from the filter
        self.height = 24
        self._rows = self._eligible = None
        self._rows_key = self._eligible_key = None
        self._name_width = 0            # the longest name among the rows, for the user column

    # ---- what is shown ----------------------------------------------------------------------

    def clusters(self):
        if self.view.cluster != ALL:
            return [self.view.cluster]
        return [c for c in self.scores.clusters if not self.clusters_filter or c in self.clusters_filter]

    def rows(self):
        """[(rank, user)] in display order; rank is the standing on the sort column, best first."""
        view, clusters = self.view, self.clusters()
        table = self.table()
        min_jobs, opted_out = self.scores.min_jobs(clusters, view.window), self.scores.opted_out()
        # the Table object is new whenever one of its files changed; holding it here keeps that test exact
        players = (table, min_jobs, opted_out)
        if players != self._eligible_key:   # who is on the board, A to Z; re-sorting needs only this
            self._eligible = eligible(table, min_jobs, opted_out)
            self._eligible_key = players
        key = players + (view.sort, view.descending, self.pattern, self.minimum)
        if key != self._rows_key:
            best_first = ranking(self._eligible, view.sort, table, self.theme.total_level)
            # --user and a filter's minimum hide rows but keep everyone's standing
            ranked = only(list(enumerate(best_first, 1)), table, self.pattern, self.minimum)
            best_is_descending = view.sort != "user"     # the best name is the first, A to Z
            self._rows = ranked if view.descending == best_is_descending else ranked[::-1]
            self._rows_key = key
            self._name_width = max((len(user) for _, user in ranked), default=0)
        return self._rows

    def table(self):
        return self.scores.table(self.clusters(), self.view.window)

    def scene(self):
        rows, clusters, now = self.rows(), self.clusters(), self.clock()
        ages = []
        for cluster in clusters:
            last = self.scores.data_time(cluster, self.view.window)
            age = None if last is None else now - last
            ages.append((cluster, age, age is None or age > STALE_POLLS * self.poll_interval))
        return Scene(rows, len(rows), self.table().counters, clusters, ages, sorted(self.scores.problems.values()),
                     self.theme, self.tip, self._name_width)

    def refresh(self):
        """Re-read what changed on disk; True when the frame must be redrawn."""
        return self.scores.refresh()

    # ---- keys --------------------------------------------------------------------------------

    def press(self, key):
        """Apply one key; False when the board should close."""
        view = self.view
        if view.mode in ("search", "filter"):
            self._type(key)
            return True
        view.message = ""
        if view.mode == "help" and key not in ("q", "Q"):
            view.mode = "table"
            return True
        action = KEYMAP.get(key)
        if action == "quit":
            return False
        if action:
            getattr(self, "_" + action)()
        return True

    def _next_column(self, step=1):
        self.view.column = (self.view.column + step) % len(SORT_KEYS)

    def _previous_column(self):
        self._next_column(-1)

    def _keeping_cursor(self, change):
        """Change what is shown and keep the selected user selected, if they are still shown."""
        rows = self.rows()
        user = rows[self.view.cursor][1] if 0 <= self.view.cursor < len(rows) else None
        change()
        rows = self.rows()
        self.view.cursor = next((n for n, row in enumerate(rows) if row[1] == user), 0)
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
        self.view.mode = "help"

    def _search(self):
        self.view.mode, self.view.typed = "search", ""

    def _filter(self):
        self.view.mode, self.view.typed = "filter", self.view.filter_text

    def _escape(self):
        self.view.search = ""

    def _move(self, to):
        self.view.cursor = max(0, min(to, len(self.rows()) - 1))
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
        self._keeping_cursor(change)


_MINIMUM = re.compile(r"^([a-z_-]*)(>=|>)([0-9]{1,15}(?:\.[0-9]{1,9})?)([kmgtp]?)$")
SUFFIXES = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12, "p": 10 ** 15}
MEMORY_SUFFIXES = {"": 1, "k": Fraction(1, 1024), "m": 1, "g": 1024, "t": 1024 ** 2, "p": 1024 ** 3}  # of MB, as shown
_BY_NAME = dict({m: m for m in METRIC_NAMES}, **{LABELS[m].lower(): m for m in METRIC_NAMES})


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


def open_session(args, settings, clock):
    scores = Scores(settings.root)
    if args.cluster != ALL and args.cluster not in scores.clusters:
        raise ValueError("--cluster {}: no such cluster under {} (found: {})".format(
            args.cluster, os.path.join(settings.root, "clusters"), ", ".join(scores.clusters) or "none"))
    sort, _, order = (args.sort or args.metric).partition(":")
    if sort not in SORT_KEYS or order not in ("", "asc", "desc"):
        raise ValueError("--sort {}: expected COL[:asc|desc], COL one of {}".format(args.sort, ", ".join(SORT_KEYS)))
    if not 0.2 <= args.refresh_sec <= 86400:
        raise ValueError("--refresh-sec {}: expected seconds between 0.2 and 86400".format(args.refresh_sec))
    if not scores.clusters:
        raise ValueError("no clusters under {}: check --root (or 'root' in the config); a collector's first poll "
                         "creates them".format(os.path.join(settings.root, "clusters")))
    view = View(args.cluster, args.window, sort, order == "desc" if order else sort != "user")
    return Session(scores, load_theme(settings.root), view, clock, settings.poll_interval_sec, args.user,
                   tip=sys.version_info >= (3, 9) and not textual_available())

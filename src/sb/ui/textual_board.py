"""Stage 8, optional: the board drawn with Textual (a DataTable, a header and a footer), driven by the same
Session as the curses board. Imported only when `textual` is installed on Python 3.9+."""
from textual.app import App
from textual.widgets import DataTable, Footer, Static

from sb.scores.skills import ACHIEVEMENTS, LABELS, METRIC_NAMES, cell_text
from sb.ui.page import page_lines
from sb.ui.view import GLYPHS, HINTS, WINDOW_TITLES, age_text, help_text, sort_title

# Textual key names → the Session's key names
KEYS = {"tab": "TAB", "shift+tab": "BTAB", "up": "UP", "down": "DOWN", "left": "LEFT", "right": "RIGHT",
        "pageup": "PGUP", "pagedown": "PGDN", "home": "HOME", "end": "END", "enter": "ENTER", "escape": "ESC",
        "backspace": "BACKSPACE", "f1": "F1", "f3": "F3", "f4": "F4", "f6": "F6", "f10": "F10", "ctrl+u": "CTRL_U"}


class Board(App):
    """The scoreboard as a Textual app; every key goes through Session.press like the curses board's."""

    CSS = """
    Screen { background: #1c1408; }
    #info { color: #ffb83f; background: #3e3529; padding: 0 1; text-style: bold; }
    #status { color: #00ff00; padding: 0 1; }
    DataTable { height: 1fr; }
    DataTable > .datatable--header { color: #ffb83f; background: #3e3529; text-style: bold; }
    DataTable > .datatable--cursor { background: #5a4a2a; color: #ffff00; }
    """
    # the same hints as the curses board's bottom line, for the footer (keys are handled in on_key)
    BINDINGS = [({"Tab": "tab", "/": "slash", "?": "question_mark"}.get(key, key), "noop", what)
                for key, what in HINTS]

    def __init__(self, session, refresh_sec):
        super().__init__()
        self.session, self.refresh_sec = session, refresh_sec
        self._filled = None     # the rows (and sort) the DataTable holds: moving the cursor must not refill it

    def compose(self):
        yield Static(id="info")
        yield DataTable(zebra_stripes=True, cursor_type="row")
        yield Static(id="status")
        yield Footer()

    def on_mount(self):
        self.set_interval(self.refresh_sec, self._tick)
        self._redraw()

    def action_noop(self):
        pass    # the bindings are there for the footer; keys are handled in on_key

    def on_key(self, event):
        if event.key == "ctrl+c":       # quits from any mode (at a prompt, "q" is a letter)
            self.exit(0)
            return
        key = KEYS.get(event.key, event.character or "")
        if not key:
            return
        event.stop()
        event.prevent_default()
        if not self.session.press(key):
            self.exit(0)
            return
        self._redraw()

    def _tick(self):
        if self.session.refresh():
            self._redraw()

    def _redraw(self):
        session, view = self.session, self.session.view
        session.height = max(self.size.height, 8)    # PgUp/PgDn move by about a screenful
        scene = session.scene()
        crown = GLYPHS["unicode"]["crown"]
        ages = "  ".join("{} {}{}{}".format(c, t or ("never polled" if a is None else age_text(a)),
                                            " (stale)" if s else "", "".join(" ({})".format(n) for n in note if n))
                         for c, a, s, t, *note in scene.ages)
        arrow = "▼" if view.descending else "▲"
        info = "{} SLURM Scoreboard   {}   {}   ranked by {} {}   {} players   {}"
        shown = [("filter ", view.filter_text), ("user ", scene.pattern), ("search ", view.search)]
        extra = "".join("   {}{}".format(label, text) for label, text in shown if text)
        self.query_one("#info", Static).update(info.format(
            crown, view.cluster, WINDOW_TITLES[view.window], sort_title(view.sort), arrow, scene.count, ages) + extra)
        table = self.query_one(DataTable)
        if self._filled != (scene.rows, view.sort, view.descending):    # Session keeps the same list until re-ranked
            self._filled = (scene.rows, view.sort, view.descending)
            table.clear(columns=True)
            table.add_columns("Rank", "User", "Total", *(LABELS[m] + (arrow if m == view.sort else "")
                                                         for m in METRIC_NAMES))
            for rank, user in scene.rows:
                counters = scene.counters(user)
                cells = [("{} {:,}".format(crown, rank) if rank == 1 else "{:,}".format(rank)), user,
                         str(scene.theme.total_level(counters))]
                cells += ["{} ({})".format(cell_text(m, counters), scene.theme.level(m, counters))
                          if m in ACHIEVEMENTS else cell_text(m, counters) for m in METRIC_NAMES]
                table.add_row(*cells)
        if scene.rows:
            table.move_cursor(row=max(view.cursor, 0))
        prompt = {"search": "/" + view.typed, "filter": "Filter: " + view.typed}.get(view.mode, "")
        if view.mode == "help":     # the help page, one entry a line, as the curses board shows it
            lines = [text for text, _ in help_text(scene, max(self.size.width - 2, 40))]
            top = max(0, min(view.help_top, len(lines) - 1))
            prompt = "\n".join(lines[top:] + ["", "(q, Esc or ? closes; arrows scroll)"])
        elif view.mode == "player":     # the player page, as the curses board draws it
            lines = [text for text, _ in page_lines(scene.player, view, max(self.size.width - 2, 40), "unicode",
                                                    scene.min_core_s / 3600, scene.show_efficiency)]
            top = max(0, min(view.help_top, len(lines) - 1))
            prompt = "\n".join(lines[top:] + ["", "(q or Esc: back; Tab: the history's skill; arrows scroll)"])
        elif not scene.rows and scene.empty:
            prompt = scene.empty
        self.query_one("#status", Static).update(prompt or view.message or (scene.problems[0] if scene.problems
                                                                             else ""))


def run(session, refresh_sec):
    Board(session, refresh_sec).run()
    return 0


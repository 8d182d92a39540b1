"""Stage 7, board rows + view state → screen lines: the pure layout of one frame at a given size, as text
segments with style names. The curses, ANSI and Textual front ends only draw these lines and read keys."""
import collections

from sb.scores.skills import LABELS, LONG_NAMES, METRIC_NAMES, cell_text, value_of, xp_text

# The sortable columns in screen order; Tab walks them.
SORT_KEYS = ("user", "level") + METRIC_NAMES
WINDOW_TITLES = {"alltime": "all time", "30d": "30 days", "365d": "365 days"}

GLYPHS = {
    "unicode": dict(tl="┏", tr="┓", bl="┗", br="┛", h="━", v="┃", lt="┣", rt="┫", crown="♛", up="▲", down="▼",
                    left="◀", right="▶", more="…", sep="·", caret="▏"),
    "ascii": dict(tl="+", tr="+", bl="+", br="+", h="=", v="|", lt="+", rt="+", crown="*", up="^", down="v",
                  left="<", right=">", more="~", sep="-", caret="_"),
}
SKILL_WIDTH = 8         # "12.3k 78": humanized XP (at most 5) and the level
TOTAL_WIDTH = 5
USER_WIDTH = (4, 12)    # a name column between these widths; longer names end in the `more` glyph
MIN_WIDTH, MIN_HEIGHT = 30, 7

HINTS = (("Tab", "column"), ("s", "sort"), ("m", "skill"), ("w", "window"), ("g", "cluster"), ("/", "search"),
         ("f", "filter"), ("r", "refresh"), ("?", "help"), ("q", "quit"))
TIP = "Tip: for a fancier UI: pip install textual && slurm-sb-tui --backend textual"
HELP = (
    ("Keys", ""),
    ("Tab Shift-Tab", "select the next / previous column (also Right / Left)"),
    ("s", "sort by the selected column; again: reverse the order"),
    ("m", "rank by the next skill"),
    ("w", "window: all time, 30 days, 365 days"),
    ("g", "cluster: ALL (summed per user), then each cluster"),
    ("/", "search as you type; Enter keeps it, n / N next / previous"),
    ("f", "filter: clusters for ALL, a minimum: hammer >=100, gpu-h>=1k"),
    ("r", "re-read the files now (done every --refresh-sec anyway)"),
    ("arrows PgUp PgDn", "move; Home / End: first / last player"),
    ("Esc", "clear the search; leave this help"),
    ("q", "quit"),
    ("", ""),
    ("Skills", "each metric is a skill; its value is the XP (12.3k = 12,300)"),
    ("Levels", "the small number after a value: 1-99 (Old School RuneScape curve)"),
    ("Total", "a player's levels summed; XP per unit: <root>/ui/theme.json"),
    ("Memory", "sums over jobs, binary units (G = GiB)"),
    ("Rank", "standing on the sorted column; the crown marks number one"),
)

Scene = collections.namedtuple("Scene", "rows count counters clusters ages problems theme tip name_width")
Scene.__doc__ = """What one frame shows: rows [(rank, user)] in display order, how many players in all (the
printed table shows the first rows only), counters(user) for a row's ten counters, the clusters summed,
ages [(cluster, seconds or None, stale)], problem lines, the Theme, the textual tip, and the longest name
among the rows (computed once per ranking, not per frame)."""


class View:
    """Where the user is: cluster, window, sort, selected column and row, scroll, search, filter, mode."""

    def __init__(self, cluster="ALL", window="alltime", sort="clock_hours", descending=True):
        self.cluster, self.window, self.sort, self.descending = cluster, window, sort, descending
        self.column = SORT_KEYS.index(sort)     # the selected column (Tab)
        self.cursor = 0                         # the selected row, an index into the scene's rows
        self.top = 0                            # the first row on screen
        self.search = ""
        self.filter_text = ""
        self.mode = "table"                     # table, search, filter or help
        self.typed = ""                         # the text at the search or filter prompt
        self.message = ""


def frame(scene, view, width, height, glyphs="unicode", printing=False):
    """The frame as lines; each line is [(text, style)] exactly `width` characters wide, `height` lines.

    printing: the one-shot table instead, every row of the scene and no key hints; height is ignored."""
    g = GLYPHS[glyphs]
    if printing:
        height = len(scene.rows) + 7
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        text = "Terminal too small: {}x{}, need {}x{}".format(width, height, MIN_WIDTH, MIN_HEIGHT)
        lines = [[(_fit(text, width), "warn")]] + [[(" " * width, "")] for _ in range(height - 1)]
        return lines[:height]
    inner = width - 2
    lines = [_top_border(g, inner), _boxed(g, _info(scene, view, g, inner), inner)]
    if height >= 11 or printing:
        lines.append(_boxed(g, _ages(scene, g, inner), inner))
    lines.append([(g["lt"] + g["h"] * inner + g["rt"], "frame")])
    body = len(scene.rows) if printing else body_height(height)
    if view.mode == "help":
        lines.extend(_boxed(g, [(_fit(text, inner), style)], inner) for text, style in _help(body + 1, inner))
    else:
        columns = _visible_columns(scene, view, inner)
        lines.append(_boxed(g, _header(columns, view, g), inner))
        top = scroll_top(view, len(scene.rows), body)
        for index in range(top, top + body):
            row = scene.rows[index] if index < len(scene.rows) else None
            lines.append(_boxed(g, _row(row, scene, columns, view, g, index == view.cursor), inner))
    lines.append(_bottom_border(scene, view, g, inner, body))
    if printing:
        return lines
    lines.append(_prompt_or_hints(scene, view, g, width))
    if _tip_line(height):
        note = view.message or (scene.problems[0] if scene.problems else "")
        lines.append([(_fit(note or (TIP if scene.tip else ""), width), "warn" if note else "tip")])
    return lines


def plain(lines):
    """The frame's text alone, one string a line (golden frames, and the monochrome ANSI output)."""
    return ["".join(text for text, _ in line) for line in lines]


def body_height(height):
    """Table rows a frame of this height shows (the rest is border, header, hints and tip)."""
    return max(height - (6 if height < 11 else 7) - (1 if _tip_line(height) else 0), 1)


def scroll_top(view, count, body):
    """The first row to show so that the cursor is on screen, moving as little as possible from view.top."""
    top = min(view.top, view.cursor)
    if view.cursor >= top + body:
        top = view.cursor - body + 1
    return max(0, min(top, max(count - body, 0)))


def _tip_line(height):
    return height >= 12


def _fit(text, width):
    return text[:width].ljust(width)


def _boxed(g, segments, inner):
    """Segments padded or cut to the inner width, between the side borders."""
    out, used = [(g["v"], "frame")], 0
    for text, style in segments:
        text = text[:inner - used]
        if text:
            out.append((text, style))
            used += len(text)
    out.append((" " * (inner - used), ""))
    out.append((g["v"], "frame"))
    return out


def _top_border(g, inner):
    title = " {} SLURM Scoreboard {} ".format(g["crown"], g["crown"])
    left = g["h"] * 2 if inner >= len(title) + 2 else ""
    rest = max(inner - len(left) - len(title), 0)
    return [(g["tl"] + left, "frame"), (title[:inner - len(left)], "title"), (g["h"] * rest + g["tr"], "frame")]


def _info(scene, view, g, inner):
    """Cluster, window, ranking skill and filter: each group whole or not at all, so a narrow terminal
    drops the last ones rather than cutting a word."""
    arrow = g["down"] if view.descending else g["up"]
    cluster = view.cluster
    if view.cluster == "ALL" and len(scene.clusters) > 1:
        cluster = "ALL ({})".format("+".join(scene.clusters))
    sort = "total level" if view.sort == "level" else "name" if view.sort == "user" else LONG_NAMES[view.sort]
    dot = " {} ".format(g["sep"])
    groups = [[(" " + cluster, "value")], [(dot, "dim"), (WINDOW_TITLES[view.window], "value")],
              [(dot + "ranked by ", "label"), (sort + " " + arrow, "value")]]
    if view.filter_text:
        groups.append([(dot + "filter ", "label"), (view.filter_text, "warn")])
    return _whole_groups(groups, inner)


def _whole_groups(groups, room):
    parts, used = [], 0
    for group in groups:
        size = sum(len(text) for text, _ in group)
        if used + size > room:
            break
        parts += group
        used += size
    return parts


def _ages(scene, g, inner):
    groups = [[(" Data:", "label")]]
    for n, (cluster, age, stale) in enumerate(scene.ages):
        text = " {} {}".format(cluster, "never polled" if age is None else age_text(age))
        groups.append(([(" " + g["sep"], "dim")] if n else []) +
                      [(text, "warn" if stale else "value")] + ([(" (stale)", "warn")] if stale else []))
    if scene.problems:
        groups.append([("  {} unreadable file(s), see below".format(len(scene.problems)), "warn")])
    return _whole_groups(groups, inner)


def age_text(seconds):
    seconds = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return "{} {} ago".format(seconds // size, unit)
    return "just now"


Column = collections.namedtuple("Column", "key title width")


def natural_width(scene):
    """The width that shows every column (what a pipe or cron mail gets)."""
    fixed, _, _ = _visible_columns(scene, View(), 0)
    return 2 + 3 + sum(c.width for c in fixed[:3]) + 2 + len(METRIC_NAMES) * (SKILL_WIDTH + 2)


def _visible_columns(scene, view, inner):
    """Rank, user and total level always; then as many skills as fit, scrolled so the selected one shows."""
    rank_width = max(len("{:,}".format(scene.count)) + 1, 4)
    user_width = min(max(scene.name_width, USER_WIDTH[0]), USER_WIDTH[1])
    fixed = [Column("rank", "Rank", rank_width), Column("user", "User", user_width),
             Column("level", "Total", TOTAL_WIDTH)]
    room = inner - 3 - sum(c.width for c in fixed) - 2     # the leading space, two gaps; 2 for the arrow
    fits = max(room // (SKILL_WIDTH + 2), 0)
    first = 0
    selected = SORT_KEYS[view.column]
    if selected in METRIC_NAMES:
        first = max(0, METRIC_NAMES.index(selected) - fits + 1)
    shown = METRIC_NAMES[first:first + fits]
    skills = [Column(m, LABELS[m], SKILL_WIDTH) for m in shown]
    return fixed + skills, first > 0, first + fits < len(METRIC_NAMES)


def _header(columns, view, g):
    cells, left, right = columns
    parts = [(g["left"] if left else " ", "dim")]
    for n, column in enumerate(cells):
        title = column.title
        if column.key == view.sort:
            title += g["down"] if view.descending else g["up"]
        text = title.ljust(column.width) if column.key == "user" else title.rjust(column.width)
        style = "selected" if column.key == SORT_KEYS[view.column] else "head"
        if n:
            parts.append(("  " if column.key in METRIC_NAMES else " ", ""))
        parts.append((text, style))
    if right:
        parts.append((" " + g["right"], "dim"))
    return parts


def _row(row, scene, columns, view, g, is_cursor):
    if row is None:
        return []
    rank, user = row
    counters, theme = scene.counters(user), scene.theme
    cells = columns[0]
    first = rank == 1
    base = "cursor" if is_cursor else "gold" if first else "row"
    parts = [(" ", base)]
    for n, column in enumerate(cells):
        if n:
            parts.append(("  " if column.key in METRIC_NAMES else " ", base))
        if column.key == "rank":
            number = "{:,}".format(rank)
            parts.append(((g["crown"] if first else " ") + number.rjust(column.width - 1),
                          base if is_cursor else "crown" if first else base))
        elif column.key == "user":
            name = user if len(user) <= column.width else user[:column.width - 1] + g["more"]
            hit = view.search and view.search.lower() in user.lower()
            parts.append((name.ljust(column.width), "match" if hit and not is_cursor else base))
        elif column.key == "level":
            parts.append((str(theme.total_level(counters)).rjust(column.width), base))
        else:
            parts.append((cell_text(column.key, counters).rjust(5), base))
            parts.append((" " + str(theme.level(column.key, counters)).rjust(2), base if is_cursor else "level"))
    return parts


def _bottom_border(scene, view, g, inner, body):
    left = ""
    if scene.rows and view.mode != "help" and 0 <= view.cursor < len(scene.rows):
        rank, user = scene.rows[view.cursor]
        counters = scene.counters(user)
        metric = view.sort if view.sort in METRIC_NAMES else "clock_hours"
        left = " #{:,} {}: {} XP, level {} ".format(rank, user, xp_text(metric, value_of(metric, counters)),
                                                     scene.theme.level(metric, counters))
    top = scroll_top(view, len(scene.rows), body)
    right = " {}-{} of {:,} ".format(top + 1, min(top + body, len(scene.rows)), scene.count) \
        if scene.rows else " no players " if view.mode != "help" else ""
    if len(left) + len(right) + 2 > inner:
        left = ""
    fill = inner - 1 - len(left) - len(right)
    if fill < 1:
        right, fill = "", inner - 1 - len(left)
    return [(g["bl"] + g["h"], "frame"), (left, "value"), (g["h"] * fill, "frame"), (right, "dim"),
            (g["br"], "frame")]


def _prompt_or_hints(scene, view, g, width):
    if view.mode == "search":
        hits = sum(1 for _, user in scene.rows if view.typed and view.typed.lower() in user.lower())
        return [(_fit(" /" + view.typed + g["caret"] + "   {} match(es); Enter keeps, Esc clears".format(hits),
                      width), "prompt")]
    if view.mode == "filter":
        return [(_fit(" Filter: " + view.typed + g["caret"] + "   clusters and e.g. >=100 or jobs>=10; empty clears",
                      width), "prompt")]
    pieces = [[(" " + key, "key"), (" " + what + " ", "hint")] for key, what in HINTS]
    last = pieces[-2:]      # help and quit always show, when anything does
    reserve = sum(len(text) for piece in last for text, _ in piece)
    parts = _whole_groups(pieces[:-2], width - reserve)
    parts = _whole_groups([parts] + last, width)
    used = sum(len(text) for text, _ in parts)
    return parts + [(" " * (width - used), "")]


def _help(rows, inner):
    lines = []
    for key, what in HELP:
        if not what:
            lines.append((" " + key, "label"))
        else:
            lines.append(("  {:<18}{}".format(key, what), "value"))
    lines = lines[:rows]
    return lines + [("", "")] * (rows - len(lines))

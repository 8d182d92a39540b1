"""Stage 7, board rows + view state → screen lines: the pure layout of one frame at a given size, as text
segments with style names. The curses, ANSI and Textual front ends only draw these lines and read keys."""
import collections

from sb.scores.movement import move_text
from sb.scores.skills import (ACHIEVEMENTS, COLUMN_OF, EFFICIENCY_NAMES, LABELS, LONG_NAMES, METRIC_NAMES, RATIOS,
                              amount_text, cell_text, efficiency_cell_level, humanize, level, value_of, xp_text,
                              xp_to_next)
from sb.timeutil import age_words

CPU_S = COLUMN_OF["clock_hours"]    # the core-seconds held, for the efficiency page's floor
# The sortable columns in screen order; Tab walks those of the page shown (p flips the page).
SORT_KEYS = ("user", "level") + METRIC_NAMES + EFFICIENCY_NAMES
PAGES = {"usage": METRIC_NAMES, "efficiency": EFFICIENCY_NAMES}


def page_keys(page):
    return ("user", "level") + PAGES[page]
WINDOW_TITLES = {"alltime": "all time", "30d": "30 days", "365d": "365 days"}

GLYPHS = {
    "unicode": dict(tl="┏", tr="┓", bl="┗", br="┛", h="━", v="┃", lt="┣", rt="┫", crown="♛", up="▲", down="▼",
                    left="◀", right="▶", more="…", sep="·", caret="▏", sort_up="▲", sort_down="▼"),
    # a letter-like arrow needs a space before it in a column title: "CPU-h v", not "CPU-hv"
    "ascii": dict(tl="+", tr="+", bl="+", br="+", h="=", v="|", lt="+", rt="+", crown="*", up="^", down="v",
                  left="<", right=">", more="~", sep="-", caret="_", sort_up=" ^", sort_down=" v"),
}
SKILL_WIDTH = 8         # "12.3k 78": humanized value (at most 5) and the level
PLAIN_WIDTH = 5         # a plain column (no level): the humanized value
TOTAL_WIDTH = 5
MOVE_WIDTH = 3          # the 7-day rank movement: "+12", "-3", "new", "="
MOVES_PENDING = {}      # Scene.then_ranks while a new ranking's movement is being worked out: blank cells
USER_WIDTH = (4, 12)    # a name column between these widths; longer names end in the `more` glyph
MIN_WIDTH, MIN_HEIGHT = 30, 7

HINTS = (("Tab", "column"), ("s", "sort"), ("Enter", "page"), ("m", "skill"), ("w", "window"), ("g", "cluster"),
         ("/", "search"),
         ("f", "filter"), ("u", "me"), ("r", "refresh"), ("?", "help"), ("q", "quit"))
PAGE_HINTS = (("Tab", "skill"), ("Up Down", "scroll"), ("g", "cluster"), ("q Esc", "back"), ("F10", "quit"))
# the textual tip, longest first: the longest that fits whole is shown, or none
TIPS = ("Tip: for a fancier UI: pip install textual && slurm-sb-tui --backend textual",
        "Tip: pip install textual && slurm-sb-tui --backend textual",
        "Tip: pip install textual, then --backend textual")
TIP = TIPS[0]
HELP = (
    ("Keys", ""),
    ("Tab Shift-Tab", "select the next / previous column (also Right / Left)"),
    ("s  F6", "sort by the selected column; again: reverse the order"),
    ("m", "rank by the next skill"),
    ("w", "window: all time, 30 days, 365 days"),
    ("g", "cluster: ALL (summed per user), then each cluster"),
    ("v", "view: players, clans (accounts), partitions (with their member count)"),
    ("p", "page: usage, or efficiency and waste ('-' unknown; grey: too few core-hours to rank)"),
    ("/  F3", "search as you type; Enter keeps it, n / N next / previous"),
    ("f  F4", "filter: clusters for ALL, a minimum: hammer >=100, gpu-h>=1k; f then Enter on an empty "
              "line clears the filter and --user"),
    ("Enter", "the selected row's page: ranks, monthly history, bests; q or Esc back"),
    ("u", "jump to yourself ($USER)"),
    ("r", "re-read the files now (done every --refresh-sec anyway)"),
    ("Up Down  k j", "move one row; PgUp / PgDn (Space) a page"),
    ("Home End", "first / last player"),
    ("mouse", "click a title to sort, a row to select; the wheel scrolls"),
    ("Ctrl-L", "repaint the screen; Ctrl-U clears a prompt"),
    ("Esc", "clear the search"),
    ("?  F1", "this help; q, Esc or ? closes it, arrows scroll it"),
    ("q  F10", "quit (also Ctrl-C)"),
    ("", ""),
    ("Skills", "each metric is a skill; a cell is its value (12.3k = 12,300)"),
    ("Levels", "the small number after a value: 1-99 (Old School RuneScape curve), for the achievements: "
               "CPU-h, Elap-h, GPU-h, GPUel-h, Jobs, GPUjobs"),
    ("Columns", "Fails, ReqMem, MaxRSS, AveRSS have no level: failing jobs or asking for memory never "
                "raises one"),
    ("Total", "the achievements' levels summed; XP per unit: <root>/ui/theme.json"),
    ("Memory", "sums over jobs, binary units (G = GiB)"),
    ("Rank", "standing on the sorted column; the crown marks number one"),
)

Scene = collections.namedtuple("Scene", "rows count counters clusters ages problems theme tip name_width pattern "
                                        "empty by members page min_core_s player show_efficiency then_ranks live")
Scene.__new__.__defaults__ = (None, "", "user", None, "usage", 0, None, True, None, None)
Scene.__doc__ = """What one frame shows: rows [(rank, user)] in display order, how many players in all (the
printed table shows the first rows only), counters(user) for a row's ten counters, the clusters summed,
ages [(cluster, seconds or None, stale, trouble[, note])] (trouble: "" or what is wrong with its files; note:
what its figures lack, e.g. "efficiency since 2025-03"), problem
lines, the Theme, the textual tip, the longest name among the rows (computed once per ranking, not per
frame), the --user pattern, why there are no rows when there are none, what the rows are (by: user, account
or partition) and, for groups, members(name): how many users a row's group has; the page of skills shown
(usage or efficiency) and the core-seconds a player needs to rank on an efficiency figure; the open player
page (scores.player.Page, or None) and whether the site shows efficiency; then_ranks {name: rank} on the
sorted skill 7 days ago (scores.movement) for the movement column, None to leave the column out; live
{user: running, pending, cpus, gpus} of those running now (scores.live), None: no Now column."""
NAME_TITLES = {"user": "User", "account": "Clan", "partition": "Partition"}
ROW_NOUNS = {"user": "players", "account": "clans", "partition": "partitions"}


class View:
    """Where the user is: cluster, window, sort, selected column and row, scroll, search, filter, mode."""

    def __init__(self, cluster="ALL", window="alltime", sort="clock_hours", descending=True):
        self.cluster, self.window, self.sort, self.descending = cluster, window, sort, descending
        self.by = "user"                        # the board's rows: user, account or partition
        self.page = "usage"                     # the skills shown: usage, or efficiency and waste
        self.column = SORT_KEYS.index(sort)     # the selected column (Tab)
        self.cursor = 0                         # the selected row, an index into the scene's rows
        self.top = 0                            # the first row on screen
        self.search = ""
        self.filter_text = ""
        self.mode = "table"                     # table, search, filter, help or player
        self.help_top = 0                       # the first line shown of the help or the player page
        self.player_metric = "clock_hours"      # the skill the player page's history shows
        self.typed = ""                         # the text at the search or filter prompt
        self.message = ""


def frame(scene, view, width, height, glyphs="unicode", printing=False):
    """The frame as lines; each line is [(text, style)] exactly `width` characters wide, `height` lines.

    printing: the one-shot table instead, every row of the scene and no key hints; height is ignored."""
    g = GLYPHS[glyphs]
    if printing:
        height = max(len(scene.rows), 1) + 7
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _too_small(width, height)
    inner = width - 2
    lines = [_top_border(g, inner), _boxed(g, _info(scene, view, g, inner), inner)]
    if height >= 11 or printing:
        lines.append(_boxed(g, _ages(scene, g, inner), inner))
    lines.append([(g["lt"] + g["h"] * inner + g["rt"], "frame")])
    body = max(len(scene.rows), 1) if printing else body_height(height)
    help_lines = []
    if view.mode in ("help", "player"):
        if view.mode == "player":
            from sb.ui.page import page_lines    # here, not at the top: the first frame need not import it
            help_lines = page_lines(scene.player, view, inner, glyphs, scene.min_core_s / 3600, scene.show_efficiency)
        else:
            help_lines = help_text(scene, inner)
        top = help_scroll(view, len(help_lines), body + 1)
        shown = help_lines[top:top + body + 1]
        shown += [("", "")] * (body + 1 - len(shown))
        lines.extend(_boxed(g, [(_fit(text, inner), style)], inner) for text, style in shown)
    else:
        columns = _visible_columns(scene, view, inner, g)
        lines.append(_boxed(g, _header(columns, view, g), inner))
        top = scroll_top(view, len(scene.rows), body)
        for index in range(top, top + body):
            row = scene.rows[index] if index < len(scene.rows) else None
            if row is None and index == 0 and scene.empty:
                lines.append(_boxed(g, [(" " + scene.empty, "warn")], inner))
                continue
            lines.append(_boxed(g, _row(row, scene, columns, view, g, index == view.cursor), inner))
    lines.append(_bottom_border(scene, view, g, inner, body, len(help_lines)))
    if printing:
        return lines
    lines.append(_prompt_or_hints(scene, view, g, width))
    if _tip_line(height):
        note = view.message or (scene.problems[0] if scene.problems else "")
        if note:
            lines.append([(_fit(_shorten(note, width), width), "warn")])
        else:
            tip = next((t for t in TIPS if len(t) <= width), "") if scene.tip else ""
            lines.append([(_fit(tip, width), "tip")])
    return lines


def _too_small(width, height):
    """The size message, wrapped on words over the lines there are, never cut mid-word when it can wrap."""
    text = "Terminal too small: {}x{}, need {}x{}".format(width, height, MIN_WIDTH, MIN_HEIGHT)
    wrapped = _wrap(text, width)
    lines = [[(_fit(line, width), "warn")] for line in wrapped[:height]]
    return lines + [[(" " * width, "")] for _ in range(height - len(lines))]


def _wrap(text, width, indent=""):
    """Words into lines of at most width characters (a word longer than that is cut)."""
    lines, line = [], ""
    for word in text.split():
        candidate = (line + " " + word) if line else word
        if len(candidate) <= width or not line:
            line = candidate[:width] if not line else candidate
        else:
            lines.append(line)
            line = (indent + word)[:width]
    return lines + ([line] if line else [])


def _shorten(text, width):
    """A note for the bottom line: whole when it fits, else cut at a word with a pointer to the help page."""
    if len(text) <= width:
        return text
    tail = " ... (? shows all)"
    room = width - len(tail)
    cut = text[:room + 1].rsplit(" ", 1)[0] if room > 0 else ""
    return (cut[:room] + tail) if room > 0 else text[:width]


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


def help_scroll(view, count, rows):
    """The first help line to show: view.help_top, kept within the page."""
    return max(0, min(view.help_top, count - rows))


def help_text(scene, inner):
    """The help page's lines [(text, style)]: problems first (whole, wrapped), then the keys and words."""
    lines = []
    if scene.problems:
        lines.append((" Problems", "warn"))
        for problem in scene.problems:
            lines.extend(("  " + line, "warn") for line in _wrap(problem, max(inner - 4, 10), "  "))
        lines.append(("", ""))
    for key, what in HELP:
        if not what:
            lines.append((" " + key, "label"))
            continue
        for n, part in enumerate(_wrap(what, max(inner - 21, 20))):    # wrapped under its own column
            lines.append(("  {:<18}{}".format("" if n else key, part), "value"))
    return lines


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


def sort_title(key):
    return "total level" if key == "level" else "name" if key == "user" else LONG_NAMES[key]


def _info(scene, view, g, inner):
    """Cluster, window, ranking skill, then what hides rows (filter, --user) and the search: each group whole
    or not at all, so a narrow terminal drops the last ones rather than cutting a word."""
    arrow = g["down"] if view.descending else g["up"]
    cluster = view.cluster
    if view.cluster == "ALL" and len(scene.clusters) > 1:
        cluster = "ALL ({})".format("+".join(scene.clusters))
    dot = " {} ".format(g["sep"])
    groups = [[(" " + cluster, "value")], [(dot, "dim"), (WINDOW_TITLES[view.window], "value")]]
    if scene.by != "user":
        groups.append([(dot, "dim"), (ROW_NOUNS[scene.by], "value")])
    groups.append([(dot + "ranked by ", "label"), (sort_title(view.sort) + " " + arrow, "value")])
    if view.filter_text:
        groups.append([(dot + "filter ", "label"), (view.filter_text, "warn")])
    if scene.pattern:
        groups.append([(dot + "user ", "label"), (scene.pattern, "warn")])
    if view.search and view.mode != "search":
        groups.append([(dot + "search ", "label"), (view.search, "warn")])
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
    """Each cluster's data age. Stale and unreadable clusters always show; when the line is full the others
    give way to `+N more`."""
    problems = "  {} unreadable file(s), see below".format(len(scene.problems)) if scene.problems else ""
    pieces = []
    for cluster, age, stale, trouble, *note in scene.ages:     # note: e.g. "efficiency since 2025-03"
        text = " {} {}".format(cluster, trouble or ("never polled" if age is None else age_text(age)))
        bad = stale or bool(trouble)
        pieces.append(([(text, "warn" if bad else "value")] + ([(" (stale)", "warn")] if stale else []) +
                       [(" ({})".format(n), "dim") for n in note if n], bad))
    sep = [(" " + g["sep"], "dim")]

    def line(chosen):
        parts = [(" Data:", "label")]
        for n in sorted(chosen):
            parts += (sep if len(parts) > 1 else []) + pieces[n][0]
        hidden = len(pieces) - len(chosen)
        return parts + ([(" +{} more".format(hidden), "dim")] if hidden else [])

    def size(parts):
        return sum(len(text) for text, _ in parts)

    shown = []
    for bad in (True, False):
        for n, (_, is_bad) in enumerate(pieces):
            if is_bad == bad:
                if size(line(shown + [n])) <= inner:
                    shown.append(n)
                elif not bad:
                    break
    parts = line(shown)
    if problems and size(parts) + len(problems) <= inner:
        parts.append((problems, "warn"))
    return parts


def age_text(seconds):
    """'3 min ago', or 'just now' under a minute (a poll's age on the Data line)."""
    return "just now" if seconds < 60 else age_words(seconds) + " ago"


Column = collections.namedtuple("Column", "key title width gap")


def _columns(scene, g):
    """Every column, sized so that its title and the sort arrow fit: rank, user, total, then the skills."""
    mark = len(g["sort_down"])
    rank_width = max(len("{:,}".format(scene.count)) + 1, 4)
    user_width = min(max(scene.name_width, USER_WIDTH[0] + mark), USER_WIDTH[1])
    fixed = [Column("rank", "Rank", rank_width, 0), Column("user", NAME_TITLES[scene.by], user_width, 1)]
    if scene.then_ranks is not None:
        fixed.append(Column("move", "7d", MOVE_WIDTH, 1))
    if scene.by != "user":
        fixed.append(Column("users", "Users", 5, 1))
    fixed.append(Column("level", "Total", TOTAL_WIDTH + mark, 1))
    skills = [Column(m, LABELS[m], max(SKILL_WIDTH, len(LABELS[m]) + mark), 2) if m in ACHIEVEMENTS or m in RATIOS
              else Column(m, LABELS[m], max(PLAIN_WIDTH, len(LABELS[m]) + mark), 1) for m in PAGES[scene.page]]
    if scene.live and scene.page == "usage":     # CPUs in use now: the last column, the first to give way
        skills.append(Column("now", "Now", PLAIN_WIDTH, 1))
    return fixed, skills


def natural_width(scene, glyphs="unicode"):
    """The narrowest width that shows every column."""
    fixed, skills = _columns(scene, GLYPHS[glyphs])
    return 2 + 1 + sum(c.gap + c.width for c in fixed + skills)


def _visible_columns(scene, view, inner, g):
    """Rank, user and total level always; then every skill when they fit, else as many as fit next to the
    two scroll arrows, scrolled so that the selected one shows."""
    fixed, skills = _columns(scene, g)
    used = 1 + sum(c.gap + c.width for c in fixed)          # the leading space (or the left arrow)
    if used + sum(c.gap + c.width for c in skills) <= inner:
        return fixed + skills, False, False
    room = inner - used - 2                                 # 2 for the right arrow
    slots = [c.gap + c.width for c in skills]
    selected = SORT_KEYS[view.column]
    shown = PAGES[scene.page]
    chosen = shown.index(selected) if selected in shown else 0
    first = 0
    while first < chosen and sum(slots[first:chosen + 1]) > room:
        first += 1
    last = first
    while last < len(skills) and sum(slots[first:last + 1]) <= room:
        last += 1
    if last == first:           # not even one skill fits: nothing is scrolled past
        first = last = 0
    return fixed + skills[first:last], first > 0, last < len(skills)


def _header(columns, view, g):
    cells, left, right = columns
    parts = [(g["left"] if left else " ", "dim")]
    for column in cells:
        title = column.title
        if column.key == view.sort:
            title += g["sort_down"] if view.descending else g["sort_up"]
        text = title.ljust(column.width) if column.key == "user" else title.rjust(column.width)
        style = "selected" if column.key == SORT_KEYS[view.column] else "head"
        if column.gap:
            parts.append((" " * column.gap, ""))
        parts.append((text, style))
    if right:
        parts.append((" " + g["right"], "dim"))
    return parts


def column_at(scene, view, width, x, glyphs="unicode"):
    """The sortable column whose title or cells are under screen column x (0-based), or None: for a click."""
    cells = _visible_columns(scene, view, width - 2, GLYPHS[glyphs])[0]
    at = 2      # the left border and the leading space
    for column in cells:
        at += column.gap
        if at - column.gap <= x < at + column.width and column.key in SORT_KEYS:
            return column.key
        at += column.width
    return None


def _row(row, scene, columns, view, g, is_cursor):
    if row is None:
        return []
    rank, user = row
    counters, theme = scene.counters(user), scene.theme
    cells = columns[0]
    first = rank == 1
    # unranked on the sorted figure, or too few core-hours to rank on the efficiency page: greyed
    unranked = rank is None or (scene.page == "efficiency" and counters[CPU_S] < scene.min_core_s)
    base = "cursor" if is_cursor else "gold" if first else "dim" if unranked else "row"
    parts = [(" ", base)]
    for column in cells:
        if column.gap:
            parts.append((" " * column.gap, base))
        if column.key == "rank":
            number = "-" if rank is None else "{:,}".format(rank)
            parts.append(((g["crown"] if first else " ") + number.rjust(column.width - 1),
                          base if is_cursor else "crown" if first else base))
        elif column.key == "user":
            name = user if len(user) <= column.width else user[:column.width - 1] + g["more"]
            hit = view.search and view.search.lower() in user.lower()
            parts.append((name.ljust(column.width), "match" if hit and not is_cursor else base))
        elif column.key == "move":
            text = "" if scene.then_ranks is MOVES_PENDING else move_text(rank, scene.then_ranks.get(user))
            style = base if is_cursor else "up" if text[:1] in "+n" and text else "down" if text[:1] == "-" else "dim"
            parts.append((text.rjust(column.width), style))
        elif column.key == "level":
            parts.append((str(theme.total_level(counters)).rjust(column.width), base))
        elif column.key == "now":
            entry = scene.live.get(user)
            parts.append(((humanize(entry["cpus"]) if entry else "").rjust(column.width),
                          base if is_cursor else "up"))
        elif column.key == "users":
            parts.append(("{:,}".format(scene.members(user)).rjust(column.width), base))
        elif column.key in ACHIEVEMENTS:
            parts.append((cell_text(column.key, counters).rjust(column.width - 3), base))
            parts.append((" " + str(theme.level(column.key, counters)).rjust(2), base if is_cursor else "level"))
        elif column.key in RATIOS:
            at = efficiency_cell_level(column.key, counters)
            parts.append((cell_text(column.key, counters).rjust(column.width - 3), base))
            parts.append((" " + ("" if at is None else str(at)).rjust(2),
                          base if is_cursor or unranked else "level"))
        else:
            parts.append((cell_text(column.key, counters).rjust(column.width), base))
    return parts


def detail_variants(scene, view, rank, user):
    """The selected player's line the hiscores way, longest first: value with its unit, exact XP, level, XP
    to the next level."""
    counters, theme = scene.counters(user), scene.theme
    who = "#{:,} {}".format(rank, user) if rank is not None else "{} (unranked)".format(user)
    if view.sort == "level":
        total = "total level {}".format(theme.total_level(counters))
        return ["{}: {}, {} XP".format(who, total, xp_text(theme.total_xp(counters))), "{}: {}".format(who, total)]
    if view.sort in EFFICIENCY_NAMES:
        return ["{}: {} {}".format(who, cell_text(view.sort, counters), LONG_NAMES[view.sort])]
    metric = view.sort if view.sort in METRIC_NAMES else "clock_hours"
    amount = amount_text(metric, value_of(metric, counters))
    if metric not in ACHIEVEMENTS:
        return ["{}: {}".format(who, amount)]
    xp = theme.xp(metric, counters)
    at = level(xp)
    need = xp_to_next(xp)
    to_next = ", {} XP to {}".format(xp_text(need), at + 1) if need is not None else ", max level"
    full = "{}: {}, {} XP, level {}".format(who, amount, xp_text(xp), at)
    return [full + to_next, full, "{}: {}, level {}".format(who, amount, at), "{}: level {}".format(who, at)]


def _bottom_border(scene, view, g, inner, body, help_count=0):
    left = right = ""
    if view.mode in ("help", "player"):
        rows = body + 1
        top = help_scroll(view, help_count, rows)
        if help_count > rows:
            right = " {}-{} of {} ".format(top + 1, min(top + rows, help_count), help_count)
        left = " q Esc ? close " if view.mode == "help" else " q Esc back, Tab skill "
    else:
        top = scroll_top(view, len(scene.rows), body)
        right = " {}-{} of {:,} ".format(top + 1, min(top + body, len(scene.rows)), scene.count) \
            if scene.rows else " no {} ".format(ROW_NOUNS[scene.by])
        if scene.rows and 0 <= view.cursor < len(scene.rows):
            rank, user = scene.rows[view.cursor]
            left = next((" {} ".format(text) for text in detail_variants(scene, view, rank, user)
                         if len(text) + 2 + len(right) + 2 <= inner), "")
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
    hints = PAGE_HINTS if view.mode == "player" else HINTS
    pieces = [[(" " + key, "key"), (" " + what + " ", "hint")] for key, what in hints]
    last = pieces[-2:]      # help and quit always show, when anything does
    reserve = sum(len(text) for piece in last for text, _ in piece)
    parts = _whole_groups(pieces[:-2], width - reserve)
    parts = _whole_groups([parts] + last, width)
    used = sum(len(text) for text, _ in parts)
    return parts + [(" " * (width - used), "")]

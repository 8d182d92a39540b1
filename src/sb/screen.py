"""Stage 8, lines → terminal: the curses board (keys, refresh, resize) and the one-shot ANSI table; both only
draw what view.frame laid out."""
import contextlib
import locale
import os
import shutil
import time

from sb.view import frame, natural_width, plain

# style → (ANSI SGR with colour, SGR without): gold and green on the terminal's own background.
ANSI_STYLES = {
    "frame": ("33", ""), "title": ("1;33", "1"), "label": ("32", ""), "value": ("1;33", "1"), "head": ("1;33", "1"),
    "selected": ("1;7;33", "7"), "gold": ("1;33", "1"), "crown": ("1;33", "1"), "row": ("32", ""),
    "level": ("33", ""), "cursor": ("7;32", "7"), "match": ("1;30;43", "1;4"), "warn": ("1;31", "1"),
    "dim": ("2", "2"), "key": ("1;33", "1"), "hint": ("32", ""), "prompt": ("1;33", "1"), "tip": ("2;32", "2"),
}


def glyph_set(encoding):
    """Box drawing and the crown need UTF-8; anything else gets plain ASCII."""
    return "unicode" if (encoding or "").lower().replace("-", "").replace("_", "") == "utf8" else "ascii"


def locale_glyphs(stream=None):
    """ASCII unless both the C library's locale (what curses and the terminal use) and the stream are UTF-8.

    Python 3.7+ writes UTF-8 even in the C locale (PEP 538/540), so the stream alone cannot tell."""
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:    # LANG names a locale this system lacks: the C library stays in "C"
        pass
    codeset = locale.nl_langinfo(locale.CODESET)
    stream_encoding = getattr(stream, "encoding", None) if stream is not None else "utf-8"
    return "unicode" if glyph_set(codeset) == "unicode" and glyph_set(stream_encoding or codeset) == "unicode" \
        else "ascii"


def color_wanted(no_color_flag, env):
    """--no-color and a non-empty NO_COLOR (no-color.org) turn colour off."""
    return not no_color_flag and not env.get("NO_COLOR")


def ansi_lines(lines, color):
    """Lines of segments as text with SGR escapes (colour, or bold/reverse only), reset at each line's end."""
    out = []
    for line in lines:
        parts = []
        for text, style in line:
            codes = ANSI_STYLES.get(style, ("", ""))[0 if color else 1]
            parts.append("\x1b[{}m{}\x1b[0m".format(codes, text) if codes and text.strip() else text)
        out.append("".join(parts))
    return out


def print_board(session, out, limit, color, glyphs, width=None):
    """The board once, as a table without key hints: every column when piped, the terminal's width on one."""
    session.view.cursor = -1
    scene = session.scene()
    scene = scene._replace(rows=scene.rows[:limit])
    lines = frame(scene, session.view, width or natural_width(scene), 0, glyphs, printing=True)
    text = ansi_lines(lines, color) if out.isatty() else plain(lines)
    out.write("\n".join(line.rstrip() for line in text) + "\n")


# ---- curses ------------------------------------------------------------------------------------

def terminal_supported(env):
    """True when curses can drive this $TERM (cursor addressing); False sends the board to ANSI mode."""
    import curses
    if not env.get("TERM"):
        return False
    try:
        curses.setupterm(env.get("TERM"), 1)
    except curses.error:
        return False
    return bool(curses.tigetstr("cup")) and bool(curses.tigetstr("clear"))


def run_curses(session, refresh_sec, color, glyphs=None):
    """The interactive board until `q`; curses.wrapper puts the terminal back however this ends."""
    import curses
    os.environ.setdefault("ESCDELAY", "25")     # Esc answers at once, not after curses' default second
    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:    # an unknown locale: carry on in "C" (ASCII borders)
        pass
    glyphs = glyphs or locale_glyphs()
    try:
        return curses.wrapper(lambda screen: _loop(curses, screen, session, refresh_sec, color, glyphs))
    except KeyboardInterrupt:   # Ctrl-C is a normal way out of a full-screen tool; wrapper has restored the tty
        return 0


def _loop(curses, screen, session, refresh_sec, color, glyphs):
    styles = _curses_styles(curses, color)
    with contextlib.suppress(curses.error):
        curses.curs_set(0)
    screen.keypad(True)
    keys = _curses_keys(curses)
    shown = None
    next_refresh = time.monotonic() + refresh_sec
    preloading = True
    while True:
        height, width = screen.getmaxyx()
        session.height = height
        lines = frame(session.scene(), session.view, width, height, glyphs)
        if lines != shown:
            _draw(curses, screen, lines, styles)
            shown = lines
        screen.timeout(0 if preloading else max(int((next_refresh - time.monotonic()) * 1000), 0))
        try:
            key = screen.get_wch()
        except curses.error:    # no key: read ahead the other windows' files, or it is time to look at the files
            key = None
        if key is None:
            if preloading:
                preloading = session.scores.preload()
                continue
            session.refresh()
            next_refresh = time.monotonic() + refresh_sec
            continue
        name = keys.get(key, key if isinstance(key, str) else None)
        if name == "RESIZE":
            curses.update_lines_cols() if hasattr(curses, "update_lines_cols") else None
            shown = None
            continue
        if name and not session.press(name):
            return 0


def _draw(curses, screen, lines, styles):
    screen.erase()
    for y, line in enumerate(lines):
        x = 0
        for text, style in line:
            try:
                screen.addstr(y, x, text, styles.get(style, 0))
            except curses.error:  # writing the bottom-right cell moves the cursor off screen; the text is there
                pass
            x += len(text)
    screen.refresh()


def _curses_keys(curses):
    keys = {"\t": "TAB", "\n": "ENTER", "\r": "ENTER", "\x1b": "ESC", "\x7f": "BACKSPACE", "\b": "BACKSPACE"}
    for name, code in (("UP", "KEY_UP"), ("DOWN", "KEY_DOWN"), ("LEFT", "KEY_LEFT"), ("RIGHT", "KEY_RIGHT"),
                       ("PGUP", "KEY_PPAGE"), ("PGDN", "KEY_NPAGE"), ("HOME", "KEY_HOME"), ("END", "KEY_END"),
                       ("BTAB", "KEY_BTAB"), ("ENTER", "KEY_ENTER"), ("BACKSPACE", "KEY_BACKSPACE"),
                       ("RESIZE", "KEY_RESIZE")):
        if hasattr(curses, code):
            keys[getattr(curses, code)] = name
    return keys


def _curses_styles(curses, color):
    """Style → curses attribute: gold and green when colour is on, bold/reverse/underline when not."""
    mono = {"title": curses.A_BOLD, "value": curses.A_BOLD, "head": curses.A_BOLD, "selected": curses.A_REVERSE,
            "gold": curses.A_BOLD, "crown": curses.A_BOLD, "cursor": curses.A_REVERSE,
            "match": curses.A_BOLD | curses.A_UNDERLINE, "warn": curses.A_BOLD, "dim": curses.A_DIM,
            "key": curses.A_BOLD, "prompt": curses.A_BOLD, "tip": curses.A_DIM}
    if not color or not curses.has_colors():
        return mono
    curses.start_color()
    background = -1
    with contextlib.suppress(curses.error):
        curses.use_default_colors()
    rich = getattr(curses, "COLORS", 8) >= 256
    gold, green = (178, 70) if rich else (curses.COLOR_YELLOW, curses.COLOR_GREEN)
    try:
        curses.init_pair(1, gold, background)
    except curses.error:    # no default colours: draw on black
        background = curses.COLOR_BLACK
        curses.init_pair(1, gold, background)
    curses.init_pair(2, green, background)
    curses.init_pair(3, curses.COLOR_RED, background)
    curses.init_pair(4, curses.COLOR_BLACK, gold)
    curses.init_pair(5, curses.COLOR_BLACK, green)
    g, n, r = curses.color_pair(1), curses.color_pair(2), curses.color_pair(3)
    bold = curses.A_BOLD
    return {"frame": g, "title": g | bold, "label": n, "value": g | bold, "head": g | bold,
            "selected": curses.color_pair(4) | bold, "gold": g | bold, "crown": g | bold, "row": n, "level": g,
            "cursor": curses.color_pair(5) | bold, "match": curses.color_pair(4), "warn": r | bold,
            "dim": curses.A_DIM, "key": g | bold, "hint": n, "prompt": g | bold, "tip": n | curses.A_DIM}


def terminal_width(out):
    return shutil.get_terminal_size((100, 24)).columns if out.isatty() else None

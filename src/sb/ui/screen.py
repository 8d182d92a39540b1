"""Stage 8, lines → terminal: the curses board (keys, refresh, resize) and the one-shot ANSI table; both only
draw what view.frame laid out."""
import contextlib
import locale
import os
import select
import shutil
import signal
import time

from sb.ui.view import frame, natural_width, plain

# The one palette: style → (foreground, background, attributes with colour, attributes without).
# Gold and green on the terminal's own background; monochrome keeps bold, reverse, dim and underline.
PALETTE = {
    "frame": ("gold", None, "", ""), "title": ("gold", None, "bold", "bold"), "label": ("green", None, "", ""),
    "value": ("gold", None, "bold", "bold"), "head": ("gold", None, "bold", "bold"),
    "selected": ("black", "gold", "bold", "reverse"), "gold": ("gold", None, "bold", "bold"),
    "crown": ("gold", None, "bold", "bold"), "row": ("green", None, "", ""), "level": ("gold", None, "", ""),
    "cursor": ("black", "green", "bold", "reverse"), "match": ("black", "gold", "", "bold underline"),
    "warn": ("red", None, "bold", "bold"), "dim": (None, None, "dim", "dim"), "key": ("gold", None, "bold", "bold"),
    "hint": ("green", None, "", ""), "prompt": ("gold", None, "bold", "bold"), "tip": ("green", None, "dim", "dim"),
    "up": ("green", None, "bold", "bold"), "down": ("red", None, "", ""),
}
_SGR_COLOURS = {"black": 0, "red": 1, "green": 2, "gold": 3}
_SGR_ATTRS = {"bold": "1", "dim": "2", "underline": "4", "reverse": "7"}


def _sgr(style, color):
    """The SGR parameters of a style, e.g. '1;33' for bold gold."""
    foreground, background, with_colour, without = PALETTE.get(style, (None, None, "", ""))
    codes = [_SGR_ATTRS[a] for a in (with_colour if color else without).split()]
    if color:
        codes += ["3{}".format(_SGR_COLOURS[foreground])] if foreground else []
        codes += ["4{}".format(_SGR_COLOURS[background])] if background else []
    return ";".join(codes)


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
            codes = _sgr(style, color)
            parts.append("\x1b[{}m{}\x1b[0m".format(codes, text) if codes and text.strip() else text)
        out.append("".join(parts))
    return out


def print_board(session, out, limit, color, glyphs, width=None, escapes=None):
    """The board once, as a table without key hints, `width` wide (every column when None); escapes
    (bold, colour when `color`) only on a terminal that understands them."""
    session.view.cursor = -1
    scene = session.scene()
    if scene.rows and limit < len(scene.rows) and not limit:
        scene = scene._replace(empty="--limit 0: no rows printed of {:,} players".format(len(scene.rows)))
    scene = scene._replace(rows=scene.rows[:limit])
    lines = frame(scene, session.view, width or natural_width(scene, glyphs), 0, glyphs, printing=True)
    escapes = out.isatty() if escapes is None else escapes
    text = ansi_lines(lines, color) if escapes else plain(lines)
    out.write("\n".join(line.rstrip() for line in text) + "\n")


def output_width(flag, env, out):
    """The printed table's width: --width, else $COLUMNS (what `watch` and shells set), else the terminal's,
    else None (as wide as every column needs)."""
    if flag:
        return max(flag, 30)
    columns = env.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 30)
    return terminal_width(out)


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
    del _HUNG_UP[:]
    previous = signal.signal(signal.SIGHUP, _hang_up)
    try:
        return curses.wrapper(lambda screen: _loop(curses, screen, session, refresh_sec, color, glyphs))
    except KeyboardInterrupt:   # Ctrl-C is a normal way out of a full-screen tool; wrapper has restored the tty
        return 0
    except _HangUp:             # the terminal closed: wrapper has put it back (if it is still there); quietly
        return 0
    except curses.error:
        if _HUNG_UP:            # putting back a terminal that is gone can fail too: still quietly
            return 0
        raise
    finally:
        signal.signal(signal.SIGHUP, previous)


class _HangUp(Exception):
    """SIGHUP: the terminal was closed."""


_HUNG_UP = []


def _terminal_gone(fd=0):
    """True when the terminal we read keys from has hung up (poll says POLLHUP or POLLERR)."""
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return any(event & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _hang_up(signum, frame):
    if _HUNG_UP:        # a second SIGHUP (the terminal's and its session's) while we are already leaving
        return
    _HUNG_UP.append(signum)
    raise _HangUp()


def _loop(curses, screen, session, refresh_sec, color, glyphs):
    styles = _curses_styles(curses, color)
    with contextlib.suppress(curses.error):
        curses.curs_set(0)
    screen.keypad(True)
    keys = _curses_keys(curses)
    wheel = _mouse(curses)
    shown = None
    next_refresh = time.monotonic() + refresh_sec
    preloading = True
    session.show_moves = False      # the first frame comes sooner without it (movement files are read while idle)
    session.defer_moves = True      # and a key's frame does not wait for a new ranking's movement
    while True:
        height, width = screen.getmaxyx()
        session.height = height
        lines = frame(session.scene(), session.view, width, height, glyphs)
        if lines != shown:
            _draw(curses, screen, lines, styles)
            shown = lines
        busy = preloading or session.has_idle_work()
        screen.timeout(0 if busy else max(int((next_refresh - time.monotonic()) * 1000), 0))
        try:
            key = screen.get_wch()
        except curses.error:    # no key: read ahead the other windows' files, or it is time to look at the files
            key = None
        if key is None:
            if preloading:
                preloading = session.scores.preload()
                session.show_moves = not preloading     # the movement column once every board is read
                continue
            if session.idle_work():
                continue
            if _terminal_gone():    # closed without a SIGHUP (ignored, or not sent): reads would spin
                _hang_up(signal.SIGHUP, None)
            session.refresh()
            next_refresh = time.monotonic() + refresh_sec
            continue
        name = keys.get(key, key if isinstance(key, str) else None)
        if name == "RESIZE":
            curses.update_lines_cols() if hasattr(curses, "update_lines_cols") else None
            # repaint all of it: a frame drawn for the old size just before the terminal shrank wrapped on
            # the screen, and curses, which does not know that, would only send what changed
            screen.clear()
            shown = None
            continue
        if name == "REPAINT":       # Ctrl-L: draw everything again, whatever the terminal shows
            screen.clear()
            shown = None
            continue
        if name == "MOUSE":
            _click(curses, session, wheel, width, glyphs)
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


def _mouse(curses):
    """Ask for clicks and the wheel; the wheel's (up, down) button masks (ncurses' mouse version 2 has a
    fifth button, which Python names from 3.10 only)."""
    up = getattr(curses, "BUTTON4_PRESSED", 0)
    down = getattr(curses, "BUTTON5_PRESSED", up << 5 if up == 0o200000 else 0)
    with contextlib.suppress(curses.error, AttributeError):
        curses.mousemask(curses.BUTTON1_PRESSED | curses.BUTTON1_CLICKED | up | down)
        curses.mouseinterval(0)
    return up, down


def _click(curses, session, wheel, width, glyphs):
    try:
        _, x, y, _, state = curses.getmouse()
    except curses.error:
        return
    if wheel[0] and state & wheel[0]:
        session.wheel(-1)
    elif wheel[1] and state & wheel[1]:
        session.wheel(1)
    elif state & (curses.BUTTON1_PRESSED | curses.BUTTON1_CLICKED):
        session.click(x, y, width, glyphs)


def _curses_keys(curses):
    keys = {"\t": "TAB", "\n": "ENTER", "\r": "ENTER", "\x1b": "ESC", "\x7f": "BACKSPACE", "\b": "BACKSPACE",
            "\x0c": "REPAINT", "\x15": "CTRL_U"}
    for n in (1, 3, 4, 6, 10):
        keys[curses.KEY_F0 + n] = "F{}".format(n)
    for name, code in (("UP", "KEY_UP"), ("DOWN", "KEY_DOWN"), ("LEFT", "KEY_LEFT"), ("RIGHT", "KEY_RIGHT"),
                       ("PGUP", "KEY_PPAGE"), ("PGDN", "KEY_NPAGE"), ("HOME", "KEY_HOME"), ("END", "KEY_END"),
                       ("BTAB", "KEY_BTAB"), ("ENTER", "KEY_ENTER"), ("BACKSPACE", "KEY_BACKSPACE"),
                       ("RESIZE", "KEY_RESIZE"), ("MOUSE", "KEY_MOUSE")):
        if hasattr(curses, code):
            keys[getattr(curses, code)] = name
    return keys


def _curses_styles(curses, color):
    """Style → curses attribute, from PALETTE: gold and green when colour is on, attributes alone when not."""
    attrs = {"bold": curses.A_BOLD, "dim": curses.A_DIM, "underline": curses.A_UNDERLINE,
             "reverse": curses.A_REVERSE}

    def attributes(names):
        value = 0
        for name in names.split():
            value |= attrs[name]
        return value

    if curses.has_colors():
        # curses.wrapper started colour, which paints every cell white on black: use the terminal's own
        with contextlib.suppress(curses.error):
            curses.start_color()
            curses.use_default_colors()
    if not color or not curses.has_colors():
        return {style: attributes(entry[3]) for style, entry in PALETTE.items()}
    background = -1
    rich = getattr(curses, "COLORS", 8) >= 256
    colours = {"black": curses.COLOR_BLACK, "red": curses.COLOR_RED, "green": 70 if rich else curses.COLOR_GREEN,
               "gold": 178 if rich else curses.COLOR_YELLOW}
    try:
        curses.init_pair(1, colours["gold"], background)
    except curses.error:    # no default colours: draw on black
        background = curses.COLOR_BLACK
    pairs, styles = {}, {}
    for style, (foreground, back, with_colour, _) in PALETTE.items():
        value = attributes(with_colour)
        if foreground:
            key = (colours[foreground], colours[back] if back else background)
            if key not in pairs:
                pairs[key] = len(pairs) + 1
                curses.init_pair(pairs[key], *key)
            value |= curses.color_pair(pairs[key])
        styles[style] = value
    return styles


def terminal_width(out):
    return shutil.get_terminal_size((100, 24)).columns if out.isatty() else None

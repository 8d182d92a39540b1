"""The `tui` command: parsed options → the right front end (curses, Textual, the printed table, or JSON)."""
import csv
import json
import sys

from sb.scores import board
from sb.ui import screen, tui


def run(args, settings, clock, env, out, err):
    session = tui.open_session(args, settings, clock, env)
    color = screen.color_wanted(args.no_color, env)
    if args.json or args.csv:
        view = session.view      # the report builds its tables through the same function
        doc = board.standings(session.scores, session.theme, view.cluster, view.window, view.sort, clock(),
                              view.descending, session.pattern, args.limit, view.by, session.min_core_hours)
        # months counted by the first release have no efficiency figures: say since when each cluster has them
        doc["efficiency_gaps"] = {c: gap for c, gap in ((c, session.scores.efficiency_gap(c))
                                                         for c in session.clusters()) if gap}
        if args.csv:
            write_csv(doc["rows"], doc["by"], out)
        else:
            print(json.dumps(doc, indent=1), file=out)
        return _report_problems(session, err)
    backend = args.backend
    interactive = out.isatty() and sys.stdin.isatty()
    if backend != "ansi" and interactive and not screen.terminal_supported(env):
        print("slurm-sb tui: TERM={!r} cannot drive the full-screen board; printing the table".format(
            env.get("TERM", "")), file=err)
        backend = "ansi"
    if backend == "ansi" or not interactive:
        escapes = out.isatty() and env.get("TERM", "") not in ("", "dumb")     # a dumb terminal gets plain text
        screen.print_board(session, out, 50 if args.limit is None else args.limit, color and escapes,
                           screen.locale_glyphs(out), screen.output_width(args.width, env, out), escapes)
        return _report_problems(session, err)
    if backend == "textual":
        if tui.textual_available():
            from sb.ui import textual_board
            return textual_board.run(session, args.refresh_sec)
        notice = "textual needs Python 3.9+ and `pip install textual`; showing the curses board"
        print("slurm-sb tui: " + notice, file=err)
        session.view.message = notice       # the alternate screen hides stderr until the board closes
    return screen.run_curses(session, args.refresh_sec, color)


def write_csv(rows, by, out):
    """The JSON rows as CSV (RFC 4180: quoted where needed, CRLF): a header of exactly their keys, in order;
    an unknown figure (null) is an empty cell."""
    keys = list(rows[0]) if rows else list(board.row_keys(by))
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow(["" if row[k] is None else row[k] for k in keys])


def _report_problems(session, err):
    for problem in sorted(session.scores.problems.values()) + list(session.theme.problems):
        print("slurm-sb tui: warning: " + problem, file=err)
    return 0

"""Command line: a table of subcommands, each handing parsed options to the module that does the work."""
import argparse
import os
import sys
import time

from sb import __version__, config
from sb.compat import PY_VERSION, tolerant_stdout
from sb.names import BadField, normalize_user


def _settings_options(parser, cluster=True):
    """--root, --cluster, --config and -o KEY=VALUE: where settings come from on the command line."""
    parser.add_argument("--root", help="shared data directory (default: config 'root')")
    if cluster:
        parser.add_argument("--cluster", help="cluster name as sacct -M knows it (default: config 'cluster')")
    parser.add_argument("--config", help="config file (default: $SLURM_SB_CONFIG or " + config.DEFAULT_CONFIG + ")")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key for this run, e.g. -o rate_limit_per_min=0")


# Seconds a command waits for a cluster's lock held by another collector. poll leaves at once (exit 0: the
# next tick does its work); the others wait, then exit 75 (EX_TEMPFAIL) saying to retry.
LOCK_WAIT_DEFAULT = {"poll": 0.0, "backfill": 300.0, "rebuild": 300.0, "discover": 300.0, "replay": 300.0}


def _wait_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError("expected a number of seconds >= 0, got {!r}".format(text))
    return value


def _collector_options(parser):
    _settings_options(parser)
    parser.add_argument("--wait", type=_wait_seconds, metavar="SEC",
                        help="wait up to SEC seconds for the cluster's lock if another collector holds it, then "
                             "exit 75 (default: 0 for poll, which leaves the work to the next tick and exits 0; "
                             "300 for the other commands)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each sacct command and window")
    parser.add_argument("--dry-run", action="store_true", help="print the sacct commands; run and write nothing")
    parser.add_argument("--now", help=argparse.SUPPRESS)  # replays and tests: pretend the clock reads this


def _backfill_options(parser):
    _collector_options(parser)
    parser.add_argument("--since", metavar="YYYY-MM", help="re-read from this month")
    parser.add_argument("--until", metavar="YYYY-MM", help="re-read up to this month (default: now)")
    parser.add_argument("--user", help="only this user's jobs (e.g. one who opted back in)")
    parser.add_argument("--upgrade", action="store_true",
                        help="only re-read, now, every month owed a re-read: those counted by the first release "
                             "(for efficiency figures) and damaged ones; `poll` does one per tick")


def _replay_options(parser):
    _collector_options(parser)
    parser.add_argument("file", help="the saved sacct output")


def _demo_options(parser):
    parser.add_argument("--keep", metavar="DIR", help="fill DIR instead of a temporary directory, and keep it")


def _no_options(parser):
    pass


def _tui_options(parser):
    parser.add_argument("--backend", choices=("curses", "textual", "ansi"), default="curses",
                        help="curses: the full-screen board (default); textual: the fancier one if textual is "
                             "installed; ansi: print the table once (also when stdout is not a terminal)")
    _settings_options(parser, cluster=False)
    parser.add_argument("--cluster", default="ALL", help="a cluster, or ALL (summed per user across clusters; default)")
    parser.add_argument("--window", choices=("alltime", "30d", "365d"), default="alltime")
    parser.add_argument("--by", choices=("user", "account", "partition"), default="user",
                        help="rows of the board: players (user, default), clans (account) or partitions")
    parser.add_argument("--metric", default="clock_hours", metavar="SKILL",
                        help="the skill that decides the rank, as on screen (gpu-h) or its JSON name (gpu_clock_hours)")
    parser.add_argument("--sort", metavar="COL[:asc|desc]",
                        help="sort column (overrides --metric): user, level (or total) or a skill (cpu-h or "
                             "clock_hours); the default order is best first (highest values; names A to Z)")
    parser.add_argument("--user", metavar="PATTERN", help="only users matching this shell pattern, e.g. 'a*'")
    parser.add_argument("--refresh-sec", type=float, default=5.0, metavar="N",
                        help="look for new data every N seconds (default 5)")
    parser.add_argument("--no-color", action="store_true", help="monochrome (so does a non-empty NO_COLOR)")
    parser.add_argument("--limit", type=int, help="rows to print (default: 50 in the table, all in JSON)")
    parser.add_argument("--width", type=int, metavar="N",
                        help="width of the printed table (default: $COLUMNS, the terminal's, or every column)")
    parser.add_argument("--json", action="store_true", help="print the ranking as JSON")
    parser.add_argument("--csv", action="store_true",
                        help="print the ranking as CSV: a header of the JSON row keys, one line per row")
    parser.add_argument("--now", help=argparse.SUPPRESS)


def _whois_options(parser):
    parser.add_argument("user", nargs="?", help="the player (default: you, $USER)")
    _settings_options(parser, cluster=False)
    parser.add_argument("--json", action="store_true", help="every entry as JSON")
    parser.add_argument("--now", help=argparse.SUPPRESS)


def _report_options(parser):
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write index.html into")
    _settings_options(parser, cluster=False)
    parser.add_argument("--now", help=argparse.SUPPRESS)


# name: (one-line help, description, options); the runner of each is in COMMANDS below.
SUBCOMMANDS = {
    "poll": ("one collection tick (for cron): next cold-start month, then catch up",
             "Take the lock, read what sacct has newly finished, commit it, rebuild the leaderboards.",
             _collector_options),
    "backfill": ("run the cold start to the end, then catch up",
                 "Read accounting month by month from backfill_start (resumable), or re-read chosen months; "
                 "re-reading never double counts.", _backfill_options),
    "rebuild": ("recompute user totals and leaderboards from the rollups",
                "Recompute agg/users/*.json and agg/leaderboards/*.json from agg/rollups/; also applies "
                "opt-outs found in home directories.", _collector_options),
    "replay": ("count a saved `sacct -P` dump (header line first)",
               "Count the jobs of a file saved with `sacct -a -D -P --noconvert -o ...` (with its header line); "
               "already counted jobs are skipped.", _replay_options),
    "demo": ("fill a scratch root from bundled example data and print the board",
             "Replays the bundled example clusters into a temporary root, their times moved by whole days so "
             "that the last job ended yesterday, prints the all-time board merged across them, and ends with "
             "the command that opens the interactive board on the kept data.", _demo_options),
    "discover": ("find users (homes, recent accounting) and queue backfills for new ones",
                 "Find usernames in home directories and recent accounting; a user seen for the first time "
                 "with no data, or a purged user who opted back in, gets a targeted backfill that later "
                 "polls work off within the rate limit.", _collector_options),
    "tui": ("the scoreboard: full-screen on a terminal, a table when piped (the default on a terminal)",
            "Ranks the users of a cluster, or of ALL clusters summed per user, for a window, on every skill; "
            "read-only, it never calls sacct. Keys: Tab column, s sort, m skill, w window, g cluster, / search, "
            "f filter, r refresh, ? help, q quit.", _tui_options),
    "whois": ("a player's rank N of M on every cluster and ALL, every window and skill",
              "Value, level and rank N of M (value descending, ties by name) of one player on every cluster and "
              "ALL, in every window, for every skill of the board; read-only. Exit 1 for an unknown or opted-out "
              "user.", _whois_options),
    "report": ("write the web report: one self-contained HTML page of hiscores and charts",
               "Writes DIR/index.html (atomically, mode 0644) from the shared files the board reads: every "
               "board, charts per month, player pages; CSS, JavaScript and data inline, no network. Read-only, "
               "it never calls sacct.", _report_options),
    "doctor": ("check sacct access, visibility of others' jobs, the shared root, Python and terminal",
               "One line per check (OK, WARN or FAIL) and what to do about anything not OK; exit status 0 "
               "unless something FAILed.", _settings_options),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="slurm-sb", description="SLURM Scoreboard: per-user SLURM usage high scores across clusters.")
    parser.add_argument("--version", action="version",
                        version="slurm-sb {} (Python {})".format(__version__, PY_VERSION))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, description, add_options) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=description)
        add_options(sub)
        if name in ("tui", "report"):
            sub.error = _one_line_usage_error(sub)
    return parser


def _one_line_usage_error(parser):
    """A usage error as one line and exit status 2 (argparse prints the whole usage first)."""
    def error(message):
        parser.exit(2, "{}: error: {} (see --help)\n".format(parser.prog, message))
    return error


def _board_by_default(argv):
    """`slurm-sb --root X` (options, no subcommand) means `slurm-sb tui --root X`."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version") and \
            not set(argv) & set(SUBCOMMANDS):
        return ["tui"] + list(argv)
    return argv


def settings_from(args, env, need_cluster=True):
    flags = {"root": args.root, "cluster": None if args.command in ("tui", "whois", "report") else args.cluster}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise config.ConfigError("-o {!r}: expected KEY=VALUE".format(item))
        flags[key.strip()] = config.scalar(key.strip(), value)
    settings = config.load(args.config, env, flags)
    if need_cluster and not settings.cluster:
        raise config.ConfigError("no cluster given: use --cluster NAME, SLURM_SB_CLUSTER, or 'cluster:' in the config")
    return settings


def clock_from(now_text):
    if not now_text:
        return time.time
    from sb.timeutil import parse_when
    offset = parse_when(now_text) - time.time()
    return lambda: time.time() + offset


def run_collector(args, env, out, err):
    from sb.collect import backfill_cmd, discover_cmd, poll_cmd, rebuild_cmd, replay_cmd
    from sb.collect.engine import EX_TEMPFAIL, Engine
    settings = settings_from(args, env)
    user = getattr(args, "user", None)
    if user:
        try:
            user = normalize_user(user)
        except BadField:
            raise config.ConfigError("--user {!r}: expected one username".format(user))
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    warn = lambda text: print(text, file=err, flush=True)  # noqa: E731
    long_running = args.command == "backfill"
    engine = Engine(settings, clock=clock_from(args.now), out=say, err=warn, verbose=args.verbose,
                    dry_run=args.dry_run, max_wait=float("inf") if long_running else 0.0,
                    interactive=long_running and out.isatty(),
                    lock_wait=LOCK_WAIT_DEFAULT[args.command] if args.wait is None else args.wait,
                    busy_status=0 if args.command == "poll" else EX_TEMPFAIL)
    if args.command == "poll":
        return engine.run(poll_cmd.poll)
    if args.command == "backfill":
        return engine.run(backfill_cmd.backfill, args.since, args.until, user, args.upgrade)
    if args.command == "rebuild":
        return engine.run(rebuild_cmd.rebuild)
    if args.command == "discover":
        return engine.run(discover_cmd.discover_users)
    return engine.run(replay_cmd.replay, args.file)


def run_doctor(args, env, out, err):
    from sb import doctor
    return doctor.run(doctor.settings_or_error(lambda: settings_from(args, env, need_cluster=False)), out)


def run_tui(args, env, out, err):
    from sb.ui import command
    return command.run(args, settings_from(args, env, need_cluster=False), clock_from(args.now), env, out, err)


def run_whois(args, env, out, err):
    from sb.ui import whois_cmd
    return whois_cmd.run(args, settings_from(args, env, need_cluster=False), clock_from(args.now), env, out, err)
def run_report(args, env, out, err):
    from sb.report import command
    return command.run(args.out, settings_from(args, env, need_cluster=False), clock_from(args.now), out, err)


def run_demo(args, env, out, err):
    from sb.demo import demo
    return demo(args.keep, out)


def tui_main():
    """The `slurm-sb-tui` entry point of a pip install."""
    return main(["tui"] + sys.argv[1:])


COMMANDS = {"poll": run_collector, "backfill": run_collector, "rebuild": run_collector,
            "replay": run_collector, "demo": run_demo, "discover": run_collector, "tui": run_tui,
            "whois": run_whois, "report": run_report, "doctor": run_doctor}


def _one_line_errors():
    """The errors every command reports in one line: imported when one happens, so that the board's start
    does not import the collector's modules for their exception classes."""
    from sb.collect.errors import CollectorError
    from sb.collect.sacct import SacctError
    from sb.store.data import Damaged
    from sb.store.files import Unsafe
    return config.ConfigError, CollectorError, Damaged, SacctError, Unsafe, ValueError


def main(argv=None, env=None, out=None, err=None):
    env = os.environ if env is None else env
    if out is None:
        tolerant_stdout()
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    if argv is None and os.path.basename(sys.argv[0]).startswith("slurm-sb-tui"):
        argv = ["tui"] + sys.argv[1:]   # a link named slurm-sb-tui (the name the textual tip uses) opens the board
    args = parser.parse_args(_board_by_default(sys.argv[1:] if argv is None else argv))
    if not args.command:
        if not (out.isatty() and sys.stdin.isatty()):
            parser.print_help(out)
            return 0
        args = parser.parse_args(["tui"])   # on a terminal, no subcommand opens the board

    try:
        return COMMANDS[args.command](args, env, out, err)
    except Exception as problem:
        if isinstance(problem, _one_line_errors()):
            print("slurm-sb {}: error: {}".format(args.command, problem), file=err)
            return 2 if getattr(problem, "usage", False) else 1     # a bad option value is a usage error
        if isinstance(problem, BrokenPipeError):  # `slurm-sb demo | head`: the reader left; not an error
            sys.stderr = open(os.devnull, "w")
            return 0
        if isinstance(problem, OSError):  # unreadable file, read-only or full root, a file for a directory
            where = problem.filename or ""
            print("slurm-sb {}: error: {}{} - check the path and its permissions".format(
                args.command, where + ": " if where else "", problem.strerror or problem), file=err)
            return 1
        raise
    except KeyboardInterrupt:
        print("slurm-sb {}: interrupted; committed windows are kept, the rest is read next time".format(
            args.command), file=err)
        return 130

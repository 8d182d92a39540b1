"""`demo`: replay the bundled example clusters into a scratch root and print the merged board.

The bundled data covers fixed months; at replay time every Submit/Start/End is moved by a whole number of
days so that the last job ended yesterday, so the 30-day and 365-day boards are full whatever today is."""
import os
import pkgutil
import shutil
import tempfile
import time

from sb import config
from sb.collect import replay_cmd
from sb.collect.engine import Engine

DEMO_CLUSTERS = ("hammer", "negishi")


def demo_data(cluster):
    """Example sacct output bundled in the pyz (build.py copies fixtures/demo there), or from a checkout."""
    data = pkgutil.get_data("sb", "demo_data/{}.db".format(cluster))
    if data is None:  # pragma: no cover - get_data raises instead on most loaders
        raise FileNotFoundError(cluster)
    return data


def _me():
    """How the user ran us: the pyz's path as typed (python3 dist/slurm-sb.pyz), else slurm-sb."""
    import sys
    program = sys.argv[0] if sys.argv else ""
    if program.endswith(".pyz"):
        return "python3 " + program
    return "slurm-sb"


def _source_fixture(cluster):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "fixtures", "demo", cluster + ".db")


TIME_FIELDS = ("Submit", "Start", "End")
DAY = 86400


def shift_to_today(data, now):
    """The dump's bytes with its times moved by whole days so that the last job ends the day before `now`
    (UTC); times that are not numbers (Unknown, None) stay as they are."""
    lines = data.decode("utf-8", "replace").split("\n")
    header = lines[0].rstrip("\r").split("|")
    where = [header.index(f) for f in TIME_FIELDS if f in header]
    end = header.index("End") if "End" in header else None
    last = 0
    for line in lines[1:]:
        parts = line.split("|")
        if end is not None and len(parts) == len(header) and parts[end].isdigit():
            last = max(last, int(parts[end]))
    if not last:
        return data
    shift = ((int(now) // DAY - 1) - last // DAY) * DAY
    out = [lines[0]]
    for line in lines[1:]:
        parts = line.split("|")
        if len(parts) == len(header) and not line.startswith("#"):
            for index in where:
                if parts[index].isdigit():
                    parts[index] = str(int(parts[index]) + shift)
            line = "|".join(parts)
        out.append(line)
    return "\n".join(out).encode("utf-8")


def show_board(root, out):
    """The all-time board of both clusters, as `tui --backend ansi` prints it."""
    from sb.scores.board import Scores
    from sb.scores.skills import load_theme
    from sb.ui.screen import locale_glyphs, print_board, terminal_width
    from sb.ui.tui import Session
    from sb.ui.view import View
    session = Session(Scores(root), load_theme(root), View(), time.time)
    print_board(session, out, 20, True, locale_glyphs(out), terminal_width(out))


def demo(keep, out, now=None):
    now = time.time() if now is None else now
    root = keep or tempfile.mkdtemp(prefix="slurm-sb-demo-")
    os.makedirs(root, exist_ok=True)
    try:
        for cluster in DEMO_CLUSTERS:
            path = os.path.join(root, cluster + ".db")
            try:
                data = demo_data(cluster)
            except (OSError, IOError):
                with open(_source_fixture(cluster), "rb") as handle:
                    data = handle.read()
            with open(path, "wb") as handle:
                handle.write(shift_to_today(data, now))
            settings = config.load(env={}, flags={"root": root, "cluster": cluster, "rate_limit_per_min": 0})
            quiet = lambda text: None  # noqa: E731
            Engine(settings, out=quiet, err=lambda text: print(text, file=out)).run(replay_cmd.replay, path)
            os.unlink(path)
        show_board(root, out)
        me = _me()
        if keep:
            print("\ndata kept in {}; open the interactive board on it:\n  {} tui --root {}".format(
                root, me, root), file=out)
        else:
            print("\nto browse it interactively, keep the data and open the board on it:\n  {} demo --keep DIR && "
                  "{} tui --root DIR".format(me, me), file=out)
        return 0
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

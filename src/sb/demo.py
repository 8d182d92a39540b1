"""`demo`: replay the bundled example clusters into a scratch root and print the merged board."""
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


def _source_fixture(cluster):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "fixtures", "demo", cluster + ".db")


def show_board(root, out):
    """The all-time board of both clusters, as `tui --backend ansi` prints it."""
    from sb.scores.board import Scores
    from sb.scores.skills import load_theme
    from sb.ui.screen import locale_glyphs, print_board, terminal_width
    from sb.ui.tui import Session
    from sb.ui.view import View
    session = Session(Scores(root), load_theme(root), View(), time.time)
    print_board(session, out, 20, True, locale_glyphs(out), terminal_width(out))


def demo(keep, out):
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
                handle.write(data)
            settings = config.load(env={}, flags={"root": root, "cluster": cluster, "rate_limit_per_min": 0})
            quiet = lambda text: None  # noqa: E731
            Engine(settings, out=quiet, err=lambda text: print(text, file=out)).run(replay_cmd.replay, path)
            os.unlink(path)
        show_board(root, out)
        if keep:
            print("\ndata kept in {}".format(root), file=out)
        return 0
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

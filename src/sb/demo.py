"""`demo`: replay the bundled example clusters into a scratch root and print the merged board."""
import os
import pkgutil
import shutil
import tempfile

from sb import config
from sb.board import load_alltime, ranked, render_table
from sb.collector import Collector

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
            Collector(settings, out=quiet, err=lambda text: print(text, file=out)).replay(path)
            os.unlink(path)
        users = load_alltime(root)
        print(render_table(ranked(users), "SLURM Scoreboard demo - all time, clusters: {} (by CPU-hours)".format(
            ", ".join(DEMO_CLUSTERS))), file=out)
        if keep:
            print("\ndata kept in {}".format(root), file=out)
        return 0
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

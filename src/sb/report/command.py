"""The `report` command: --root and --out → DIR/index.html written atomically (temp + rename, 0644), or one
error line; read-only on the data, it never calls sacct."""
import os
import tempfile

from sb.report.data import page_data
from sb.report.page import render
from sb.scores.board import Scores, check_root
from sb.scores.skills import load_theme

PAGE = "index.html"


def run(out_dir, settings, clock, out, err):
    problem = check_root(settings.root)
    if problem:
        raise ValueError(problem)
    scores = Scores(settings.root)
    if not scores.clusters:
        raise ValueError("no cluster under {} has a leaderboard yet (agg/leaderboards): a collector's first poll "
                         "writes them".format(os.path.join(settings.root, "clusters")))
    data = page_data(scores, load_theme(settings.root), settings.poll_interval_sec, clock(), workers())
    text = render(data).encode("utf-8")
    path = write_page(out_dir, text)
    for line in data["problems"]:
        print("slurm-sb report: warning: " + line, file=err)
    print("wrote {} ({:,} bytes)".format(path, len(text)), file=out)
    return 0


def workers():
    """Processes that read the monthly rollups: the cores this process may use, at most 4 (a login node is
    shared; the months of 20 clusters take about 3 s of CPU per 5 clusters)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:       # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def write_page(out_dir, data):
    """DIR/index.html replaced in one rename, so a web server serves the old page or the new, never half."""
    path = os.path.join(out_dir, PAGE)
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix="." + PAGE + ".", suffix=".tmp", dir=out_dir)
    except OSError as problem:
        raise ValueError("cannot write {} ({}): choose an --out directory you may write".format(
            path, problem.strerror))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o644)   # the web server is another user: world-readable, whatever the umask
        os.replace(temp, path)
    except OSError as problem:
        _remove(temp)
        raise ValueError("cannot write {} ({}): check the disk and the directory".format(path, problem.strerror))
    _fsync_dir(out_dir)
    return path


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(path):
    """Make the rename itself durable; some filesystems cannot fsync a directory, which is no error."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

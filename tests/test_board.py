"""The one-shot board (`tui --backend ansi`, `--json`): ranks for a cluster or ALL, every window, vs the oracle."""
import calendar
import io
import json
import os
import time

import pytest

import oracle
from conftest import REPO
from sb import cli

DEMO = os.path.join(REPO, "fixtures", "demo")
NOW = "2026-11-01T00:00:00"      # the demo data ends just before this


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("board") / "root")
    for cluster in ("hammer", "negishi"):
        assert cli.main(["replay", "--root", path, "--cluster", cluster, "--now", NOW, "-o", "squeue=true",
                         os.path.join(DEMO, cluster + ".db")], out=io.StringIO(), err=io.StringIO()) == 0
    return path


def expected(clusters, window, metric, min_jobs=3, pattern=None):
    merged = {}
    now = calendar.timegm(time.strptime(NOW, "%Y-%m-%dT%H:%M:%S"))
    last = time.strftime("%Y-%m-%d", time.gmtime(now))
    for cluster in clusters:
        rows = oracle.load_rows(os.path.join(DEMO, cluster + ".db"))
        if window == "alltime":
            totals = oracle.alltime_totals(rows)
        else:
            days = int(window[:-1])
            first = time.strftime("%Y-%m-%d", time.gmtime(now - (days - 1) * 86400))
            totals = oracle.window_totals(rows, first, last)
        for user, metrics in totals.items():
            total = merged.setdefault(user, dict.fromkeys(metrics, 0))
            for key, value in metrics.items():
                total[key] += value
    ranked = oracle.ranks(merged, metric, min_jobs=min_jobs)
    import fnmatch
    return [(u, v) for _, u, v in ranked if not pattern or fnmatch.fnmatchcase(u, pattern)]


def tui(root, *args):
    out = io.StringIO()
    assert cli.main(["tui", "--root", root, "--now", NOW, "--limit", "1000"] + list(args), out=out,
                    err=io.StringIO()) == 0
    return out.getvalue()


@pytest.mark.parametrize("cluster", ["ALL", "hammer", "negishi"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
def test_ansi_table_ranks_match_the_oracle(root, cluster, window):
    text = tui(root, "--backend", "ansi", "--cluster", cluster, "--window", window, "--metric", "gpu_clock_hours")
    lines = text.splitlines()
    assert lines[0].startswith("SLURM Scoreboard - {} - {} - by gpu_clock_hours".format(cluster, window))
    assert lines[1].split()[:3] == ["#", "User", "GPU-h"]      # the ranking skill comes first
    rows = [l.split() for l in lines[3:]]
    want = expected(["hammer", "negishi"] if cluster == "ALL" else [cluster], window, "gpu_clock_hours")
    assert [(int(r[0]), r[1]) for r in rows] == [(n, u) for n, (u, _) in enumerate(want, 1)]
    assert [float(r[2].replace(",", "")) for r in rows] == [round(v, 1) for _, v in want]


def test_json_has_every_metric_and_the_same_ranks(root):
    doc = json.loads(tui(root, "--json", "--window", "365d", "--metric", "jobs"))
    assert (doc["cluster"], doc["window"], doc["metric"], doc["min_jobs"]) == ("ALL", "365d", "jobs", 3)
    want = expected(["hammer", "negishi"], "365d", "jobs")
    assert [(r["rank"], r["user"], r["jobs"]) for r in doc["rows"]] == [(n, u, v) for n, (u, v) in enumerate(want, 1)]
    assert set(oracle.METRICS) <= set(doc["rows"][0])


def test_user_pattern_filters_without_reranking_the_rest(root):
    doc = json.loads(tui(root, "--json", "--user", "u001*"))
    assert [r["user"] for r in doc["rows"]] == [u for u, _ in expected(["hammer", "negishi"], "alltime",
                                                                        "clock_hours", pattern="u001*")]
    assert doc["rows"] and all(r["user"].startswith("u001") for r in doc["rows"])

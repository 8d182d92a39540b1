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


def xp_value(text):
    """'12.3k' → 12300.0: read a humanized cell back (three significant digits)."""
    factor = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(text[-1], 1)
    return float(text.rstrip("kMGT")) * factor


def table_rows(text):
    """(rank, user, first skill's XP) of each printed row: the lines between the header and the bottom."""
    lines = text.splitlines()
    rows = []
    for line in lines[5:-1]:
        cells = line.strip("┃|").replace("♛", " ").replace("*", " ").split()
        rows.append((int(cells[0].replace(",", "")), cells[1], cells[3]))
    return lines, rows


@pytest.mark.parametrize("cluster", ["ALL", "hammer", "negishi"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
def test_ansi_table_ranks_match_the_oracle(root, cluster, window):
    text = tui(root, "--backend", "ansi", "--cluster", cluster, "--window", window, "--sort", "gpu_clock_hours")
    lines, rows = table_rows(text)
    assert "ranked by GPU hours" in lines[1] and cluster in lines[1]
    assert lines[4].split()[1:4] == ["Rank", "User", "Total"]
    want = expected(["hammer", "negishi"] if cluster == "ALL" else [cluster], window, "gpu_clock_hours")
    assert [(n, u) for n, u, _ in rows] == [(n, u) for n, (u, _) in enumerate(want, 1)]
    assert " of {} ".format(len(want)) in lines[-1]
    cpu = dict(expected(["hammer", "negishi"] if cluster == "ALL" else [cluster], window, "clock_hours"))
    for _, user, cell in rows:      # the CPU-h column, to its three significant digits
        assert xp_value(cell) == pytest.approx(cpu[user], rel=0.006, abs=0.006), user


def test_ansi_limit_and_ascii_when_the_output_cannot_encode_box_drawing(root):
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert cli.main(["tui", "--root", root, "--now", NOW, "--limit", "5"], out=out, err=io.StringIO()) == 0
    out.seek(0)
    text = out.read()
    lines, rows = table_rows(text)
    assert len(rows) == 5 and lines[0].startswith("+== * SLURM Scoreboard * ==")
    assert " 1-5 of {} ".format(len(expected(["hammer", "negishi"], "alltime", "clock_hours"))) in lines[-1]
    assert "\x1b" not in text          # not a terminal: no escapes


def test_json_has_every_metric_and_the_same_ranks(root):
    doc = json.loads(tui(root, "--json", "--window", "365d", "--metric", "jobs"))
    assert doc["rows"][0]["total_level"] >= 10
    assert (doc["cluster"], doc["window"], doc["metric"], doc["min_jobs"]) == ("ALL", "365d", "jobs", 3)
    want = expected(["hammer", "negishi"], "365d", "jobs")
    assert [(r["rank"], r["user"], r["jobs"]) for r in doc["rows"]] == [(n, u, v) for n, (u, v) in enumerate(want, 1)]
    assert set(oracle.METRICS) <= set(doc["rows"][0])


def test_user_pattern_filters_without_reranking_the_rest(root):
    doc = json.loads(tui(root, "--json", "--user", "u001*"))
    assert [r["user"] for r in doc["rows"]] == [u for u, _ in expected(["hammer", "negishi"], "alltime",
                                                                        "clock_hours", pattern="u001*")]
    assert doc["rows"] and all(r["user"].startswith("u001") for r in doc["rows"])

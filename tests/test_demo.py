"""`demo`: the bundled example clusters, merged, ranked like an independent computation of the same data."""
import io
import os

import oracle
from conftest import REPO
from sb import cli

DEMO = os.path.join(REPO, "fixtures", "demo")


def expected_ranking(min_jobs=3):
    merged = {}
    for name in ("hammer.db", "negishi.db"):
        for user, metrics in oracle.alltime_totals(oracle.load_rows(os.path.join(DEMO, name))).items():
            total = merged.setdefault(user, dict.fromkeys(metrics, 0))
            for key, value in metrics.items():
                total[key] += value
    return oracle.ranks(merged, "clock_hours", min_jobs=min_jobs)


def test_demo_prints_the_merged_board_in_oracle_order(tmp_path):
    out = io.StringIO()
    assert cli.main(["demo", "--keep", str(tmp_path / "root")], out=out, err=io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    assert "SLURM Scoreboard" in lines[0] and "ALL (hammer+negishi)" in lines[1]
    assert lines[4].split()[1:6] == ["Rank", "User", "7d", "Total", "CPU-h\u25bc"]   # 7d: rank movement
    rows = [line.strip("\u2503").replace("\u265b", " ").split() for line in lines[5:25]]
    expected = expected_ranking()
    assert [(int(r[0]), r[1]) for r in rows] == [(n, u) for n, u, _ in expected[:20]]
    for row, (_, _, value) in zip(rows, expected):      # CPU-h, humanized to three significant digits
        number = float(row[4].rstrip("kM")) * {"k": 1e3, "M": 1e6}.get(row[4][-1], 1)
        assert abs(number - value) <= 0.005 * value + 0.005
    assert os.path.isdir(str(tmp_path / "root" / "clusters" / "negishi" / "agg" / "users"))


def test_demo_leaves_no_scratch_root_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert cli.main(["demo"], out=io.StringIO(), err=io.StringIO()) == 0
    assert os.listdir(str(tmp_path)) == []


def test_demo_months_end_yesterday_so_every_window_is_full(tmp_path):
    import json
    import time
    from sb import demo
    now = time.time()
    out = io.StringIO()
    root = str(tmp_path / "root")
    assert demo.demo(root, out, now=now) == 0
    for cluster in ("hammer", "negishi"):
        board = json.load(open(os.path.join(root, "clusters", cluster, "agg", "leaderboards", "rolling-30d.json")))
        assert board["table"]["data"][0], cluster        # players in the last 30 days, whatever today is
    # the shift is whole days, and the last job ends yesterday (UTC)
    data = open(os.path.join(DEMO, "hammer.db"), "rb").read()
    shifted = demo.shift_to_today(data, now).decode()
    header = shifted.split("\n")[0].split("|")
    ends = [int(line.split("|")[header.index("End")]) for line in shifted.split("\n")[1:]
            if line.count("|") == len(header) - 1 and line.split("|")[header.index("End")].isdigit()]
    assert max(ends) // 86400 == int(now) // 86400 - 1
    originals = [line.split("|") for line in data.decode().split("\n")[1:] if line.count("|") == len(header) - 1]
    moved = [line.split("|") for line in shifted.split("\n")[1:] if line.count("|") == len(header) - 1]
    deltas = {int(b[header.index("Submit")]) - int(a[header.index("Submit")]) for a, b in zip(originals, moved)}
    assert len(deltas) == 1 and deltas.pop() % 86400 == 0
    # the last lines say how to open the interactive board on the kept data
    assert out.getvalue().rstrip().splitlines()[-1].endswith("tui --root " + root)

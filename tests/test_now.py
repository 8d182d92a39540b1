"""What is running now on the board (issue 12, 6): the collector's live.json per cluster → the Now column
(CPUs in use) and the player page's Now line; a stale snapshot is said to be so and never summed into ALL;
opted-out users are never shown; a damaged snapshot is a problem line, not a crash."""
import calendar
import io
import json
import os
import shutil
import time

import pytest

from conftest import DEMO_NOW, GOLDEN
from sb import cli
from sb.scores.board import Scores
from sb.scores.live import now_playing
from sb.scores.skills import Theme
from sb.ui import view
from sb.ui.tui import Session

NOW = calendar.timegm(time.strptime(DEMO_NOW, "%Y-%m-%dT%H:%M:%S"))


def snapshot(root, cluster, age_s, users):
    asof = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - age_s))
    with open(os.path.join(root, "clusters", cluster, "live.json"), "w") as handle:
        json.dump({"asof": asof, "cluster": cluster, "users": users}, handle)


def entry(running, pending, cpus, gpus=0):
    return {"running": running, "pending": pending, "cpus": cpus, "gpus": gpus}


@pytest.fixture()
def root(demo_root, tmp_path):
    path = str(tmp_path / "root")
    shutil.copytree(demo_root, path)
    snapshot(path, "hammer", 120, {"u0037": entry(3, 5, 128, 2), "u0018": entry(1, 0, 16), "u0005": entry(0, 2, 0)})
    snapshot(path, "negishi", 60, {"u0037": entry(1, 0, 1000), "u0023": entry(2, 1, 64, 4)})
    return path


def board(root, *args):
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["tui", "--root", root, "--now", DEMO_NOW, "--width", "160", "--no-color"] + list(args),
                    out=out, err=err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    at = lines[4].find(" Now ")     # the title is right-aligned in its 5 characters: "  Now"
    cells = {}
    for line in lines[5:-1]:
        parts = line.strip("┃ ").replace("♛", " ").split()
        cells[parts[1]] = line[at - 1:at + 4].strip() if at >= 0 else None
    return lines, cells


def test_all_sums_the_fresh_snapshots(root):
    lines, cells = board(root)
    assert "Now" in lines[4]
    assert cells["u0037"] == "1.13k" and cells["u0018"] == "16" and cells["u0023"] == "64"    # 128 + 1,000
    assert cells["u0005"] == "" and cells["u0001"] == ""        # only pending, or nothing: blank
    _, hammer = board(root, "--cluster", "hammer")
    assert hammer["u0037"] == "128" and hammer["u0023"] == ""


def test_a_stale_snapshot_is_named_and_not_summed_into_all(root):
    snapshot(root, "negishi", 4 * 3600, {"u0037": entry(1, 0, 1000), "u0023": entry(2, 1, 64, 4)})
    lines, cells = board(root)
    assert cells["u0037"] == "128" and cells["u0023"] == ""
    assert "negishi" in lines[2] and "(squeue stale: 4 h ago)" in lines[2]
    found = now_playing(Scores(root), ["hammer", "negishi"], NOW, 1800)
    assert [c for c, _ in found.fresh] == ["hammer"] and [c for c, _ in found.stale] == ["negishi"]
    assert found.users["u0037"] == entry(3, 5, 128, 2)


def test_nobody_running_leaves_the_column_out(root):
    for cluster in ("hammer", "negishi"):
        snapshot(root, cluster, 60, {"u0005": entry(0, 4, 0)})
    lines, _ = board(root)
    assert "Now" not in lines[4]
    lines, _ = board(root, "--by", "account")        # live is per user: clans have no Now column
    assert "Now" not in lines[4]


def test_opted_out_users_are_never_shown(root):
    os.makedirs(os.path.join(root, "config"), exist_ok=True)
    with open(os.path.join(root, "config", "optout.txt"), "w") as handle:
        handle.write("u0018\n")
    _, cells = board(root)
    assert "u0018" not in cells                 # not on the board at all
    s = Session(Scores(root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
    assert "u0018" not in s.scene().live


def test_the_page_says_what_runs_now_and_which_snapshot_is_stale(root):
    snapshot(root, "negishi", 3 * 86400, {"u0037": entry(1, 0, 1000)})
    s = Session(Scores(root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
    s.press("ENTER")
    assert s.player.name == "u0037"
    text = view.plain(view.frame(s.scene(), s.view, 100, 40))
    assert "Now: 3 running (128 CPUs, 2 GPUs), 5 pending on hammer (squeue 2 min ago)" in text[5]
    assert "Now on negishi: unknown, its squeue snapshot is 3 d old (stale)" in text[6]
    s.press("q"), s.press("DOWN"), s.press("DOWN")
    s.press("ENTER")                             # u0018: 16 CPUs, on hammer only
    assert "Now: 1 running (16 CPUs), 0 pending on hammer" in view.plain(view.frame(s.scene(), s.view, 100, 40))[5]


def test_a_damaged_snapshot_is_a_problem_line_not_a_crash(root):
    with open(os.path.join(root, "clusters", "hammer", "live.json"), "w") as handle:
        handle.write('{"asof": "yesterday", "users": {}}')
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["tui", "--root", root, "--now", DEMO_NOW, "--width", "160"], out=out, err=err) == 0
    assert "live.json: not a live snapshot" in err.getvalue()
    _, cells = board(root)
    assert cells["u0037"] == "1k"               # negishi's alone


def test_the_collectors_own_snapshot_reaches_the_board(sandbox):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    open(sandbox.squeue_out, "w").write("alice|R|8|cpu=8,node=1|5005_4|\nbob|PD|2|cpu=2,node=1|5011|\n")
    now = "2024-04-10T12:00:00"
    code, _, err = sandbox.run("poll", now=now, options=("rate_limit_per_min=0", "backfill_start=2024-01"))
    assert code == 0, err
    clock = cli.clock_from(now)
    s = Session(Scores(sandbox.root), Theme(), view.View(), clock)
    assert s.scene().live == {"alice": entry(1, 0, 8)}

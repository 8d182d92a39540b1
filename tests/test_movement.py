"""Rank movement over 7 days: the boards as they stood at the end of the UTC day 7 days before, rebuilt by
the board from the collector's movement file, against the oracle's ranking of the demo's sacct dumps over
the window shifted by 7 days; the column, the page and a damaged or missing file."""
import datetime
import io
import os
import shutil

import pytest

import oracle
from conftest import DEMO, DEMO_NOW
from sb import cli
from sb.scores import movement
from sb.scores.board import Scores
from sb.scores.skills import Theme
from sb.ui import view
from sb.ui.tui import Session

BOTH = ["hammer", "negishi"]
TODAY = datetime.date(2026, 11, 1)      # DEMO_NOW's UTC day: the day the demo's boards were written for
DAYS = {"alltime": None, "30d": 30, "365d": 365}


@pytest.fixture(scope="module")
def demo_rows():
    return {c: oracle.load_rows(os.path.join(DEMO, c + ".db")) for c in BOTH}


def oracle_then(rows, window, by, metric, clusters):
    """[name] best first on `metric`, of the window as it stood at the end of TODAY - 7 (oracle's own sums)."""
    last = TODAY - datetime.timedelta(days=7)
    first = None if DAYS[window] is None else last - datetime.timedelta(days=DAYS[window] - 1)
    totals = oracle.sum_totals([oracle.group_totals(rows[c], by, first or "1970-01-01", last) for c in clusters])
    min_jobs = 3 if by == "user" else 1
    ranked = [(name, m[metric]) for name, m in totals.items() if m["jobs"] >= min_jobs]
    ranked.sort(key=lambda pair: (-pair[1], pair[0]))
    return [name for name, _ in ranked]


@pytest.mark.parametrize("clusters", [["hammer"], ["negishi"], BOTH])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
@pytest.mark.parametrize("by, metric", [("user", "clock_hours"), ("user", "jobs"), ("account", "clock_hours"),
                                        ("partition", "gpu_clock_hours")])
def test_the_board_7_days_ago_ranks_as_the_oracle(demo_root, demo_rows, clusters, window, by, metric):
    got = movement.then_ranks(Scores(demo_root), Theme(), clusters, window, by, metric)
    want = oracle_then(demo_rows, window, by, metric, clusters)
    assert sorted(got, key=got.get) == want
    assert sorted(got.values()) == list(range(1, len(want) + 1))


def test_the_demo_has_movement_to_show(demo_root, demo_rows):
    """Somebody moved in the last 7 days on the 30-day boards, somebody is new, or the tests above prove little."""
    moved, new = 0, 0
    for cluster in BOTH:
        now = oracle.ranks(oracle.window_totals(demo_rows[cluster], TODAY - datetime.timedelta(days=29), TODAY),
                           "jobs")
        then = movement.then_ranks(Scores(demo_root), Theme(), [cluster], "30d", "user", "jobs")
        moved += sum(1 for rank, user, _ in now if then.get(user) != rank)
    assert moved >= 3


def test_a_name_whose_jobs_all_came_this_week_is_new_and_one_whose_jobs_left_is_gone():
    from sb.scores.board import Table, standings_of
    from sb.scores.boardfile import Board
    from sb.store.counters import INDEX, WIDTH
    def column(values):
        return [values.get(name, 0) for name in ("ann", "bob", "cat")]
    jobs, cpu = INDEX["jobs"], INDEX["cpu_s"]
    columns = [[0, 0, 0] for _ in range(WIDTH)]
    columns[jobs], columns[cpu] = column({"ann": 5, "bob": 4, "cat": 3}), column({"ann": 10, "bob": 50, "cat": 30})
    now = Table([Board(3, ["ann", "bob", "cat"], columns, {})])
    changes = {"bob": [0] * WIDTH, "dan": [0] * WIDTH, "cat": [0] * WIDTH}
    changes["bob"][jobs], changes["bob"][cpu] = 4, 50          # all of bob's jobs came this week
    changes["dan"][jobs], changes["dan"][cpu] = -6, -60        # dan's 6 jobs left the window this week
    changes["cat"][cpu] = 25                                   # cat's jobs grew this week
    then = movement.Then(now, changes)
    assert then.column(jobs) == {"ann": 5, "bob": 0, "cat": 3, "dan": 6}
    ranks = dict((name, rank) for rank, name in standings_of(["ann", "cat", "dan"], "clock_hours", then, Theme()))
    assert ranks == {"dan": 1, "ann": 2, "cat": 3}             # cat had 5 core-seconds then, ann 10
    now_ranks = dict((name, rank) for rank, name in standings_of(["ann", "bob", "cat"], "clock_hours", now, Theme()))
    assert [movement.move_text(now_ranks[n], ranks.get(n)) for n in ("bob", "cat", "ann")] == ["new", "+1", "-1"]


def test_move_text():
    assert [movement.move_text(*pair) for pair in [(2, 5), (5, 2), (3, 3), (1, None), (None, 4), (1, 300)]] == \
        ["+3", "-3", "=", "new", "", "+99"]


def board_text(root, *args):
    out = io.StringIO()
    assert cli.main(["tui", "--root", root, "--now", DEMO_NOW, "--width", "120", "--no-color"] + list(args),
                    out=out, err=io.StringIO()) == 0
    return out.getvalue().splitlines()


def test_the_7d_column_shows_each_rows_movement_on_the_sorted_skill(demo_root, demo_rows):
    lines = board_text(demo_root, "--window", "30d", "--cluster", "hammer", "--sort", "jobs")
    header = next(line for line in lines if "Rank" in line)
    assert header.strip("┃ ").split()[2] == "7d"
    then = oracle_then(demo_rows, "30d", "user", "jobs", ["hammer"])
    rows = [line.strip("┃ ").replace("♛", " ").split() for line in lines[5:]]
    rows = [cells for cells in rows if cells and cells[0].isdigit()]
    assert rows
    for cells in rows:
        rank, user, shown = int(cells[0]), cells[1], cells[2]
        expected = "new" if user not in then else "=" if then.index(user) + 1 == rank else \
            "{:+d}".format(then.index(user) + 1 - rank)
        assert shown == expected, (user, rank)


def test_without_a_movement_file_the_column_is_left_out_and_the_page_says_nothing(demo_root, tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    os.remove(os.path.join(root, "clusters", "negishi", "agg", "leaderboards", "moves-7d.json"))
    assert "7d" not in next(line for line in board_text(root) if "Rank" in line)          # ALL needs both
    assert "7d" in next(line for line in board_text(root, "--cluster", "hammer") if "Rank" in line)
    s = Session(Scores(root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
    s.press("ENTER")
    assert s.player.moves == {}


def test_a_damaged_movement_file_is_a_problem_not_a_crash(demo_root, tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    path = os.path.join(root, "clusters", "hammer", "agg", "leaderboards", "moves-7d.json")
    with open(path, "r+b") as handle:
        handle.seek(200)
        handle.write(b"garbage")
    scores = Scores(root)
    assert movement.then_ranks(scores, Theme(), ["hammer"], "30d", "user", "jobs") is None
    assert any("moves-7d.json" in problem for problem in scores.problems.values())


def test_the_page_shows_the_movement_of_every_skill(demo_root, demo_rows):
    s = Session(Scores(demo_root), Theme(), view.View(window="30d", cluster="hammer"), cli.clock_from(DEMO_NOW))
    s.press("ENTER")
    page = s.player
    for window in DAYS:
        then = oracle_then(demo_rows, window, "user", "clock_hours", ["hammer"])
        rank = page.standings[window, "clock_hours"]["rank"]
        want = "" if rank is None else "new" if page.name not in then else movement.move_text(
            rank, then.index(page.name) + 1)
        assert page.moves[window, "clock_hours"] == want
    line = next(text for text in view.plain(view.frame(s.scene(), s.view, 100, 40)) if " CPU-h " in text)
    assert page.moves["30d", "clock_hours"] in line


def test_a_poll_on_the_next_day_rewrites_the_movement_file(demo_root, tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    path = os.path.join(root, "clusters", "hammer", "agg", "leaderboards", "moves-7d.json")
    before = open(path, "rb").read()
    code = cli.main(["rebuild", "--root", root, "--cluster", "hammer", "--now", "2026-11-02T00:10:00"],
                    out=io.StringIO(), err=io.StringIO())
    assert code == 0
    after = open(path, "rb").read()
    assert after != before and b'"day":20759' in after      # 2026-11-02 is day 20,759 since 1970


def test_on_the_curses_board_a_new_rankings_movement_waits_for_an_idle_moment(demo_root):
    """A key must not wait for the movement of its new ranking: the column is blank until idle_work."""
    s = Session(Scores(demo_root), Theme(), view.View(window="30d"), cli.clock_from(DEMO_NOW))
    s.defer_moves = True
    first = s.scene().then_ranks                  # the first ranking's is worked out at once
    assert first == movement.then_ranks(s.scores, Theme(), BOTH, "30d", "user", "clock_hours")
    s.press("m")
    pending = s.scene()
    assert pending.then_ranks is view.MOVES_PENDING and s.has_idle_work()
    lines = view.plain(view.frame(pending, s.view, 120, 30))
    assert " 7d " in lines[4] and all(line[12:16].strip() == "" for line in lines[5:15])   # blank, not "new"
    assert s.idle_work() and not s.has_idle_work()
    assert s.scene().then_ranks == movement.then_ranks(s.scores, Theme(), BOTH, "30d", "user", "elapsed_hours")
    assert not s.idle_work()

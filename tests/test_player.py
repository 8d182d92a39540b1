"""The player page (Enter on a row): its history and bests against the oracle's monthly sums of the demo's
sacct dumps, its ranks against the board's own (`tui --json` sorted on each skill), a golden frame of a
hand-built page, the keys on a Session and in a real terminal."""
import calendar
import io
import json
import os
import time

import pytest

import oracle
from conftest import DEMO, DEMO_NOW
from sb import cli
from sb.scores import player
from sb.scores.board import Scores
from sb.scores.skills import ACHIEVEMENTS, Theme
from sb.store import rollups
from sb.store.counters import COLUMNS, INDEX, zero
from sb.ui import view
from sb.ui.tui import Session
from test_view import golden

BOTH = ["hammer", "negishi"]
NOW = calendar.timegm(time.strptime(DEMO_NOW, "%Y-%m-%dT%H:%M:%S"))
SUMS = ("clock_hours", "jobs", "gpu_clock_hours", "elapsed_hours", "sum_req_mem_mb", "wait_hours")
RATIOS = ("cpu_efficiency", "mem_efficiency", "time_efficiency", "gpu_efficiency")


@pytest.fixture(scope="module")
def demo_rows():
    return {c: oracle.load_rows(os.path.join(DEMO, c + ".db")) for c in BOTH}


def page_of(root, name, cluster="ALL", by="user"):
    return player.player_page(Scores(root), Theme(), name, cluster, by, NOW)


@pytest.mark.parametrize("by, name", [("user", "u0023"), ("user", "u0005"), ("account", "chem"),
                                      ("partition", "gpu"), ("partition", "hammer")])
def test_history_per_cluster_and_month_equals_the_oracle(demo_root, demo_rows, by, name):
    page = page_of(demo_root, name, by=by)
    assert page.clusters == BOTH and len(page.months) == 36 and page.months[-1] == "2026-11"
    assert not page.problems
    want = {c: oracle.group_totals(demo_rows[c], by, monthly=True) for c in BOTH}
    seen = 0
    for metric in SUMS + RATIOS:
        got = player.monthly_values(page, metric)
        for cluster in BOTH:
            for month, value in zip(page.months, got[cluster]):
                expected = want[cluster].get((name, month))
                if expected is None:        # no job that month: sums are 0, ratios unknown
                    assert value == (None if metric in RATIOS else 0), (cluster, month, metric)
                    continue
                seen += 1
                if expected[metric] is None:
                    assert value is None, (cluster, month, metric)
                else:
                    assert value == pytest.approx(expected[metric], rel=1e-9, abs=1e-9), (cluster, month, metric)
    assert seen > 20, "a page with no months proves nothing"


@pytest.mark.parametrize("by, name", [("user", "u0023"), ("account", "cs")])
def test_personal_bests_are_the_best_month_of_the_clusters_summed(demo_root, demo_rows, by, name):
    page = page_of(demo_root, name, by=by)
    months = oracle.sum_totals([oracle.group_totals(demo_rows[c], by, monthly=True) for c in BOTH])
    mine = {month: m for (who, month), m in months.items() if who == name}
    bests = player.personal_bests(page, min_core_hours=10)
    for skill in ACHIEVEMENTS:
        value, month = max(((m[skill], month) for month, m in mine.items() if m[skill]), default=(None, None))
        if value is None:
            assert skill not in bests
        else:
            assert bests[skill][0] == pytest.approx(value, rel=1e-9) and mine[bests[skill][1]][skill] == \
                pytest.approx(value, rel=1e-9)
    for skill in RATIOS:            # a ratio's best month needs 10 core-hours that month, as its board
        floor = [(m[skill], month) for month, m in mine.items() if m[skill] and m["clock_hours"] >= 10]
        if floor:
            assert bests[skill][0] == pytest.approx(max(floor)[0], rel=1e-9)
        else:
            assert skill not in bests
    assert "clock_hours" in bests and "cpu_efficiency" in bests


@pytest.mark.parametrize("cluster, by, name", [("ALL", "user", "u0023"), ("hammer", "user", "u0005"),
                                               ("ALL", "account", "chem"), ("negishi", "partition", "gpu")])
def test_ranks_on_the_page_are_the_boards_ranks(demo_root, cluster, by, name):
    page = page_of(demo_root, name, cluster, by)
    key = {"user": "user", "account": "account", "partition": "partition"}[by]
    for window in ("alltime", "30d", "365d"):
        for metric in ("clock_hours", "jobs", "gpu_clock_hours", "cpu_efficiency", "cpu_wasted_hours"):
            out, err = io.StringIO(), io.StringIO()
            assert cli.main(["tui", "--root", demo_root, "--json", "--now", DEMO_NOW, "--cluster", cluster,
                             "--window", window, "--by", by, "--sort", metric], out=out, err=err) == 0, err
            rows = json.loads(out.getvalue())["rows"]
            ranked = [row for row in rows if row["rank"] is not None]
            entry = page.standings[window, metric]
            board = next((row for row in ranked if row[key] == name), None)
            assert entry["rank"] == (board["rank"] if board else None), (window, metric)
            assert entry["of"] == len(ranked), (window, metric)
            if board:
                assert entry["value"] == pytest.approx(board[metric], rel=1e-9)


def test_split_per_cluster_is_the_all_time_board_of_each(demo_root):
    page = page_of(demo_root, "u0023")
    figures = player.cluster_figures(page)
    for cluster in BOTH:
        out = io.StringIO()
        cli.main(["tui", "--root", demo_root, "--json", "--now", DEMO_NOW, "--cluster", cluster], out=out,
                 err=io.StringIO())
        row = next(r for r in json.loads(out.getvalue())["rows"] if r["user"] == "u0023")
        assert figures[cluster]["clock_hours"] == pytest.approx(row["clock_hours"], rel=1e-12)
        assert figures[cluster]["jobs"] == row["jobs"]


# ---- reading one name's rows of a month --------------------------------------------------------------

def test_one_names_rows_are_found_whatever_its_characters(tmp_path):
    def counters(jobs):
        row = zero()
        row[INDEX["jobs"]], row[INDEX["cpu_s"]] = jobs, 3600 * jobs
        return row
    totals = {("a", 'we"ird,"account":"x",', "cpu"): counters(1), ("a", "x", "cpu"): counters(2),
              ("b", "x", "gpu"): counters(4), ("ab", "x", "cpu"): counters(8), ("é", "ünï", "cpu"): counters(16)}
    data = rollups.monthly_json("2024-01", totals, 0)
    rows = lambda field, name: sorted(u for u, _ in rollups.monthly_rows_of(data, "m", field, name))  # noqa
    assert rows("username", "a") == ["a", "a"]          # not "ab"
    assert rows("account", "x") == ["a", "ab", "b"]     # not the account whose name holds '"account":"x",'
    assert rows("account", 'we"ird,"account":"x",') == ["a"]
    assert rows("partition", "cpu") == ["a", "a", "ab", "é"]
    assert rows("account", "ünï") == ["é"]
    found = dict((u, c) for u, c in rollups.monthly_rows_of(data, "m", "partition", "gpu"))
    assert found["b"][INDEX["jobs"]] == 4 and len(found["b"]) == len(COLUMNS)
    broken = data[:-40]
    with pytest.raises(ValueError):
        rollups.monthly_rows_of(broken, "m", "username", "a")


def test_a_damaged_month_is_a_problem_on_the_page_and_counts_nothing(demo_root, tmp_path):
    import shutil
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    path = os.path.join(root, "clusters", "hammer", "agg", "rollups", "monthly", "2026-10.json")
    with open(path, "r+b") as handle:
        handle.truncate(100)
    page = page_of(root, "u0023")
    assert len(page.problems) == 1 and "2026-10" in page.problems[0]
    assert page.history["hammer"][page.months.index("2026-10")] == zero()
    lines = view.plain(view.frame(_scene_with(page), _player_view(), 100, 60))
    assert any("Unreadable, counted as 0: hammer 2026-10: " in line for line in lines)


# ---- the frame ---------------------------------------------------------------------------------------

def _player_view(metric="clock_hours"):
    the_view = view.View()
    the_view.mode, the_view.player_metric = "player", metric
    return the_view


def _scene_with(page):
    return view.Scene([], 0, None, page.clusters, [(c, 60, False, "") for c in page.clusters], [], Theme(), False,
                      4, player=page)


def hand_page():
    """alice on ALL of hammer and negishi, everything written out: 1,000 CPU-h (10,000 XP: level 27) and
    10 jobs (1,000 XP: level 9) on hammer in 2024-11 and 2024-12 (500 CPU-h, 5 jobs each), 50 CPU-h and 2
    jobs on negishi in 2024-12; CPU time used 750 h of hammer's 1,000, so CPU% 75 %."""
    def row(jobs, cpu_h, used_h=0):
        counters = zero()
        counters[INDEX["jobs"]], counters[INDEX["cpu_s"]] = jobs, cpu_h * 3600
        counters[INDEX["elapsed_s"]], counters[INDEX["cpu_used_ms"]] = cpu_h * 360, used_h * 3600000
        return counters
    months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08",
              "2024-09", "2024-10", "2024-11", "2024-12"]
    history = {"hammer": [zero()] * 10 + [row(5, 500, 375), row(5, 500, 375)],
               "negishi": [zero()] * 11 + [row(2, 50)]}
    split = {"hammer": row(10, 1000, 750), "negishi": row(2, 50)}
    standings = {}      # unused skills: 0 and level 1 (achievements), unknown (ratios), 0 (waste), unranked
    for window, of in (("alltime", 4), ("30d", 3), ("365d", 4)):
        for metric in ("total_level",) + player_skills():
            standings[window, metric] = {"metric": metric, "value": None if metric in RATIOS else 0, "rank": None,
                                         "of": of, "level": 1 if metric in ACHIEVEMENTS else None}
    # all time: 1,050 CPU-h is 10,500 XP, level 27; 12 jobs 1,200 XP, level 10; 4 other skills at level 1
    standings["alltime", "total_level"].update(value=41, rank=1)
    standings["alltime", "clock_hours"].update(value=1050.0, level=27, rank=1)
    standings["alltime", "jobs"].update(value=12, level=10, rank=2)
    standings["alltime", "cpu_efficiency"].update(value=750 / 1050, level=71, rank=3)   # 1 + round(98 x 0.714)
    standings["alltime", "cpu_wasted_hours"].update(value=300.0, rank=2)
    standings["365d", "clock_hours"].update(value=1050.0, level=27, rank=2)
    return player.Page("alice", "user", "ALL", ["hammer", "negishi"], standings, months, history, split, [])


def player_skills():
    from sb.scores.skills import PAGE_SKILLS
    return PAGE_SKILLS


def test_the_page_at_80x40_matches_its_golden_frame():
    lines = view.frame(_scene_with(hand_page()), _player_view(), 80, 40)
    assert view.plain(lines) == golden("player-alice-80x40.txt")


def test_the_page_scrolls_and_tab_picks_the_historys_skill(demo_root):
    s = Session(Scores(demo_root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
    s.height = 24
    s.press("DOWN")
    chosen = s.rows()[1][1]
    s.press("ENTER")
    assert s.view.mode == "player" and s.player.name == chosen
    text = view.plain(view.frame(s.scene(), s.view, 80, 24))
    assert "Player {} on ALL (hammer+negishi)".format(chosen) in text[4]
    s.press("PGDN")
    scrolled = view.plain(view.frame(s.scene(), s.view, 80, 24))
    assert scrolled[4] != text[4] and " 11-" in scrolled[-3]
    s.press("END")
    s.press("TAB")
    assert s.view.player_metric == "elapsed_hours"
    assert any("elapsed hours per month" in line for line in view.plain(view.frame(s.scene(), s.view, 80, 24)))
    s.press("BTAB"), s.press("BTAB")
    assert s.view.player_metric == "avg_wait_hours"         # it wraps round to the last skill
    s.press("g")                                            # another cluster: the page follows
    assert s.player.clusters == ["hammer"] and s.view.mode == "player"
    assert s.press("q") and s.view.mode == "table"          # q goes back, it does not quit
    assert s.rows()[s.view.cursor][1] == chosen             # with the same player selected
    s.press("ENTER")
    assert not s.press("F10")                               # F10 still quits


def test_enter_on_a_clan_opens_the_clans_page(demo_root):
    s = Session(Scores(demo_root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
    s.press("v")
    clan = s.rows()[0][1]
    s.press("ENTER")
    assert s.player.by == "account" and s.player.name == clan
    assert "Clan {} on ALL".format(clan) in view.plain(view.frame(s.scene(), s.view, 100, 40))[4]


def test_the_page_in_a_real_terminal(demo_root):
    import terminal
    from test_tui import board_command, expect
    argv, env = board_command(demo_root)
    term = terminal.Terminal(argv, 100, 40, env)
    try:
        term.wait_text(" of 48 ")
        third = expect(BOTH, "alltime", "clock_hours", 3)[2][1]
        term.send("j", "j", "\r")
        text = term.wait_text("Player {} on ALL".format(third))
        assert "per month" in text and "Personal bests" in text
        term.send("\x1b[Z")                                   # Shift-Tab: the history's previous skill
        term.wait_text("average queue wait (hours) per month")
        term.send("q")
        text = term.wait_text(" of 48 ")
        assert "#3 {}:".format(third) in text.splitlines()[-3]     # back on the board, same player selected
        term.send("q")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_the_textual_board_shows_the_page_too(demo_root):
    pytest.importorskip("textual")
    import asyncio
    from sb.ui.textual_board import Board
    from textual.widgets import Static

    async def drive():
        s = Session(Scores(demo_root), Theme(), view.View(), cli.clock_from(DEMO_NOW))
        app = Board(s, 5)
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.press("down", "enter")
            opened = str(app.query_one("#status", Static).render())
            await pilot.press("escape")
            closed = str(app.query_one("#status", Static).render())
            await pilot.press("q")
        return s.rows()[1][1], opened, closed

    second, opened, closed = asyncio.run(drive())
    assert "Player {} on ALL".format(second) in opened and "Personal bests" in opened
    assert "Personal bests" not in closed


# ---- golden frames of every view and the page at 80x24 and 160x50 (issue 12's tests) ----------------------

def view_scene(by):
    """The test_view counters as players, clans or partitions; a group's members are written out."""
    from test_view import ALICE, BOB, CAROL_ALL, DAVE
    names = {"user": ("alice", "dave", "bob", "carol"), "account": ("physics", "chem", "bio", "math"),
             "partition": ("gpu", "cpu", "highmem", "debug")}[by]
    members = dict(zip(names, (3, 12, 1, 2)))
    rows = list(zip((1, 2, 3, 4), names, (ALICE, DAVE, BOB, CAROL_ALL)))
    counters = {name: c for _, name, c in rows}
    return view.Scene([(rank, name) for rank, name, _ in rows], 4, counters.__getitem__, BOTH,
                      [("hammer", 240, False, ""), ("negishi", 7200, True, "")], [], Theme(), False,
                      max(len(name) for name in names), by=by, members=None if by == "user" else members.get)


@pytest.mark.parametrize("by", ["user", "account", "partition"])
@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_every_view_matches_its_golden_frame(by, size):
    the_view = view.View()
    the_view.by = by
    lines = view.frame(view_scene(by), the_view, *size)
    assert view.plain(lines) == golden("view-{}-{}x{}.txt".format(by, *size))


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_page_matches_its_golden_frames(size):
    lines = view.frame(_scene_with(hand_page()), _player_view(), *size)
    assert view.plain(lines) == golden("player-alice-{}x{}.txt".format(*size))

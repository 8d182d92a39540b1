"""The interactive board: key presses on a Session, then the real thing on a pseudo-terminal (pyte), with ranks
checked against the oracle's computation from the demo's sacct dumps."""
import os
import sys
import termios

import pytest

from conftest import DEMO_NOW, REPO, demo_ranking
from sb import cli
from sb.ui import tui
from sb.scores.board import Scores
from sb.scores.skills import Theme
from sb.ui.view import View

BOTH = ["hammer", "negishi"]


def session(root, **view):
    clock = cli.clock_from(DEMO_NOW)
    return tui.Session(Scores(root), Theme(), View(**view), clock)


def users(s):
    return [user for _, user in s.rows()]


def test_keys_change_skill_sort_window_and_cluster_like_the_oracle(demo_root):
    s = session(demo_root)
    assert users(s) == [u for u, _ in demo_ranking(BOTH, "alltime", "clock_hours")]
    s.press("m")                                   # the next skill: elapsed hours
    assert s.view.sort == "elapsed_hours"
    assert users(s) == [u for u, _ in demo_ranking(BOTH, "alltime", "elapsed_hours")]
    s.press("s")                                   # the selected column is the sorted one: reverse
    assert users(s) == [u for u, _ in demo_ranking(BOTH, "alltime", "elapsed_hours")][::-1]
    assert s.rows()[-1][0] == 1                    # ranks stay standings: number one is now last
    s.press("w")
    assert s.view.window == "30d"
    assert users(s) == [u for u, _ in demo_ranking(BOTH, "30d", "elapsed_hours")][::-1]
    s.press("g")
    assert s.view.cluster == "hammer"
    assert users(s) == [u for u, _ in demo_ranking(["hammer"], "30d", "elapsed_hours")][::-1]
    for _ in range(2):
        s.press("g")
    assert s.view.cluster == "ALL"


def test_tab_then_s_sorts_by_another_column_and_keeps_the_selected_user(demo_root):
    s = session(demo_root)
    s.press("DOWN"), s.press("DOWN")
    chosen = s.rows()[2][1]
    for _ in range(4):                             # CPU-h → elapsed → GPU-h → GPU elapsed → jobs
        s.press("TAB")
    s.press("s")
    assert s.view.sort == "jobs"
    assert users(s) == [u for u, _ in demo_ranking(BOTH, "alltime", "jobs")]
    assert s.rows()[s.view.cursor][1] == chosen


def test_search_jumps_to_matches_and_escape_clears(demo_root):
    s = session(demo_root)
    order = users(s)
    for key in "/u0005":
        s.press(key)
    assert s.view.mode == "search" and s.rows()[s.view.cursor][1] == "u0005"
    s.press("ENTER")
    s.press("/"), s.press("1"), s.press("ENTER")
    first = next(n for n, u in enumerate(order) if "1" in u)
    assert s.view.cursor == first
    s.press("n")
    assert s.view.cursor == next(n for n, u in enumerate(order) if "1" in u and n > first)
    s.press("ESC")
    assert s.view.search == ""


def test_filter_clusters_and_minimum(demo_root):
    s = session(demo_root)
    for key in "fnegishi jobs>=40":
        s.press(key)
    s.press("ENTER")
    want = [u for u, _ in demo_ranking(["negishi"], "alltime", "clock_hours")]
    jobs = dict(demo_ranking(["negishi"], "alltime", "jobs"))
    assert users(s) == [u for u in want if jobs[u] >= 40] and users(s)
    assert s.view.filter_text == "negishi jobs>=40"
    s.press("f")
    for _ in range(len("negishi jobs>=40")):
        s.press("BACKSPACE")
    for key in "bogus":
        s.press(key)
    s.press("ENTER")
    assert "filter: 'bogus' is neither a cluster" in s.view.message
    assert s.view.filter_text == "negishi jobs>=40"        # a bad filter changes nothing


@pytest.mark.parametrize("text, expected", [
    ("", (None, None)), ("hammer", ({"hammer"}, None)), (">=2", (None, ("clock_hours", 7200))),
    ("gpu-h>1.5", (None, ("gpu_clock_hours", 5401))), ("jobs>=1k", (None, ("jobs", 1000))),
    ("hammer,negishi maxrss>=1", ({"hammer", "negishi"}, ("sum_max_mem_mb", 1024))),
    ("reqmem>=1.5g", (None, ("sum_req_mem_mb", 1536 * 1024))),       # memory cells are binary: 1.5G = 1536 MB
    ("reqmem>=10t", (None, ("sum_req_mem_mb", 10 * 1024 ** 3))),
    ("jobs>=2.007k", (None, ("jobs", 2007))), ("jobs>1.001k", (None, ("jobs", 1002))),   # exact, no float dust
    ("cpu-h>=1.1", (None, ("clock_hours", 3960))),
])
def test_parse_filter(text, expected):
    assert tui.parse_filter(text, BOTH, "clock_hours") == expected


@pytest.mark.parametrize("text", ["jobs>" + "9" * 310, "jobs>=1.2.3", "cpu-h>=abc"])
def test_absurd_filters_are_refused_with_a_message(text):
    with pytest.raises(ValueError) as caught:
        tui.parse_filter(text, BOTH, "clock_hours")
    assert str(caught.value).startswith("filter: ")


def test_user_pattern_and_minimum_hide_rows_but_keep_standings(demo_root):
    s = session(demo_root)
    s.pattern = "u004*"
    want = [(n, u) for n, (u, _) in enumerate(demo_ranking(BOTH, "alltime", "clock_hours"), 1) if u.startswith("u004")]
    assert s.rows() == want and want[0][0] > 1


# ---- on a real terminal ------------------------------------------------------------------------

terminal = pytest.importorskip("terminal")


def board_command(root, *args):
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=os.pathsep.join(
        [os.path.join(REPO, "src"), os.path.join(REPO, "vendor")]), LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("NO_COLOR", None)
    return [sys.executable, "-m", "sb", "tui", "--root", root, "--now", DEMO_NOW] + list(args), env


def screen_rows(text):
    """(rank, user) of the table rows on screen."""
    rows = []
    for line in text.splitlines()[5:]:
        cells = line.strip("┃ ").replace("♛", " ").split()
        if len(cells) > 2 and cells[0].replace(",", "").isdigit():
            rows.append((int(cells[0].replace(",", "")), cells[1]))
    return rows


def expect(clusters, window, metric, count):
    return [(n, u) for n, (u, _) in enumerate(demo_ranking(clusters, window, metric), 1)][:count]


def test_the_board_in_a_real_terminal(demo_root):
    argv, env = board_command(demo_root)
    term = terminal.Terminal(argv, 120, 30, env)
    try:
        text = term.wait_text(" of 48 ")
        raw_modes = term.modes()
        assert not raw_modes & termios.ICANON and not raw_modes & termios.ECHO    # curses has the keyboard
        assert "ALL (hammer+negishi)" in text and "ranked by CPU hours" in text
        tip_wanted = sys.version_info >= (3, 9) and not tui.textual_available()    # textual needs 3.9+
        assert ("Tip: for a fancier UI: pip install textual" in text) == tip_wanted
        assert screen_rows(text) == expect(BOTH, "alltime", "clock_hours", 22)
        term.send("m")
        text = term.wait_text("ranked by elapsed hours")
        assert screen_rows(text) == expect(BOTH, "alltime", "elapsed_hours", 22)
        term.send("s")
        text = term.wait_text("elapsed hours ▲")
        # the cursor stays on the user selected at the start (CPU number one), now near the end of the list
        chosen = expect(BOTH, "alltime", "clock_hours", 1)[0][1]
        elapsed = expect(BOTH, "alltime", "elapsed_hours", 48)
        assert screen_rows(text)[-1] == next(row for row in elapsed if row[1] == chosen)
        assert [n for n, _ in screen_rows(text)] == sorted((n for n, _ in screen_rows(text)), reverse=True)
        term.send("s", "w")
        text = term.wait_text("30 days")
        assert screen_rows(text) == expect(BOTH, "30d", "elapsed_hours", 22)
        term.send("g")
        text = term.wait_for(lambda t: "hammer · 30 days" in t)
        assert screen_rows(text) == expect(["hammer"], "30d", "elapsed_hours", 22)
        term.send("g", "g", "w", "w", "/", "u", "0", "0", "0", "5")
        text = term.wait_text("/u0005")
        rank = [u for u, _ in demo_ranking(BOTH, "alltime", "elapsed_hours")].index("u0005") + 1
        assert "#{} u0005:".format(rank) in text.splitlines()[-3]    # the cursor's detail line
        term.send("ENTER", "q")
        assert term.wait_exit() == 0
        modes = term.modes()
        assert modes & termios.ICANON and modes & termios.ECHO              # the terminal is given back
        assert term.raw.rfind(b"\x1b[?1049l") > term.raw.rfind(b"\x1b[?1049h") >= 0  # left the alternate screen
        assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[?25l")         # cursor visible again
    finally:
        term.close()


def test_resize_relays_out_and_ctrl_c_still_restores_the_terminal(demo_root):
    argv, env = board_command(demo_root, "--no-color")
    term = terminal.Terminal(argv, 120, 30, env)
    try:
        term.wait_text(" of 48 ")
        assert b"\x1b[33m" not in term.raw and b"38;5;178" not in term.raw          # monochrome
        term.resize(50, 12)
        text = term.wait_for(lambda t: t.splitlines()[0].rstrip().endswith("┓") and len(t.splitlines()[0].rstrip()) == 50)
        assert screen_rows(text) == expect(BOTH, "alltime", "clock_hours", 4)
        term.send("\x03")
        assert term.wait_exit() == 0
        assert term.modes() & termios.ECHO
    finally:
        term.close()


def test_no_subcommand_on_a_terminal_opens_the_board_and_dumb_terminals_get_the_table(demo_root):
    argv, env = board_command(demo_root)
    env["SLURM_SB_ROOT"] = demo_root
    term = terminal.Terminal(argv[:3], 120, 30, env)
    try:
        term.wait_text(" of 48 ")
        term.send("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
    env["TERM"] = "dumb"
    term = terminal.Terminal(argv + ["--limit", "5"], 120, 30, env)
    try:
        assert term.wait_exit() == 0
        text = term.text()
        assert "cannot drive the full-screen board" in text and " 1-5 of 48 " in text
    finally:
        term.close()


def test_textual_backend_shows_the_same_ranks_and_follows_the_keys(demo_root):
    pytest.importorskip("textual")
    import asyncio
    from sb.ui.textual_board import Board
    from textual.widgets import DataTable

    async def drive():
        app = Board(session(demo_root), 5)
        async with app.run_test(size=(160, 40)) as pilot:
            table = app.query_one(DataTable)
            first = [str(table.get_row_at(n)[1]) for n in range(table.row_count)]
            await pilot.press("m")
            second = [str(table.get_row_at(n)[1]) for n in range(table.row_count)]
            await pilot.press("w")
            third = [str(table.get_row_at(n)[1]) for n in range(table.row_count)]
            await pilot.press("q")
        return first, second, third

    first, second, third = asyncio.run(drive())
    assert first == [u for u, _ in demo_ranking(BOTH, "alltime", "clock_hours")]
    assert second == [u for u, _ in demo_ranking(BOTH, "alltime", "elapsed_hours")]
    assert third == [u for u, _ in demo_ranking(BOTH, "30d", "elapsed_hours")]

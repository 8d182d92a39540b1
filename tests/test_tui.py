"""The interactive board: key presses on a Session, then the real thing on a pseudo-terminal (pyte), with ranks
checked against the oracle's computation from the demo's sacct dumps."""
import io
import json
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
    ("hammer,negishi maxrss>=1", ({"hammer", "negishi"}, ("sum_max_mem_mb", 1 << 20))),   # counters are bytes
    ("reqmem>=1.5g", (None, ("sum_req_mem_mb", 1536 << 20))),       # memory cells are binary: 1.5G = 1536 MB
    ("reqmem>=10t", (None, ("sum_req_mem_mb", 10 << 40))),
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


def test_selection_survives_an_empty_window(tmp_path):
    # issue 15 item 12: End, w to an empty 30d board, w to 365d: the same player is selected, not #1
    from sb.store.leaderboards import board_json
    root = str(tmp_path)
    folder = os.path.join(root, "clusters", "hammer", "agg", "leaderboards")
    os.makedirs(folder)
    players = {("u{}".format(n), "phys", "cpu"): [5, 0, 0, 0, n * 3600] + [0] * 15 for n in range(1, 6)}
    for name, table in (("alltime", players), ("rolling-30d", {}), ("rolling-365d", players)):
        with open(os.path.join(folder, name + ".json"), "wb") as handle:
            handle.write(board_json(name, "hammer", 3, table, 1700000000))
    s = session(root)
    s.press("END")
    assert s.rows()[s.view.cursor][1] == "u1"
    s.press("w")
    assert s.view.window == "30d" and s.rows() == []
    s.press("w")
    assert s.view.window == "365d" and s.rows()[s.view.cursor][1] == "u1"


def test_an_empty_filter_clears_the_user_pattern_and_an_empty_board_says_why(demo_root):
    s = session(demo_root)
    s.pattern = "zzz"
    assert s.rows() == [] and "--user 'zzz' hides all 48 players" in s.scene().empty
    s.press("f"), s.press("ENTER")
    assert s.pattern is None and len(s.rows()) == 48 and s.scene().empty == ""
    for key in "fjobs>=100000":
        s.press(key)
    s.press("ENTER")
    assert s.rows() == [] and "the filter 'jobs>=100000' hides all 48 players" in s.scene().empty


def test_htop_keys_help_page_and_jumping_to_yourself(demo_root):
    s = session(demo_root)
    s.me = s.rows()[30][1]
    s.press("u")
    assert s.view.cursor == 30
    s.me = "nobody"
    s.press("u")
    assert s.view.cursor == 30 and "nobody" in s.view.message
    s.press("F1")
    assert s.view.mode == "help"
    s.press("DOWN"), s.press("DOWN")          # scrolls the page, not the selection
    assert s.view.help_top == 2 and s.view.cursor == 30
    s.press("q")                              # closes the help, does not quit
    assert s.view.mode == "table"
    assert s.press("?") and s.press("ESC") and s.view.mode == "table"
    s.press("F3")
    assert s.view.mode == "search"
    for key in "u00":
        s.press(key)
    s.press("CTRL_U")
    assert s.view.typed == ""
    s.press("ESC"), s.press("F4")
    assert s.view.mode == "filter"
    s.press("ESC")
    s.press("TAB"), s.press("F6")
    assert s.view.sort == "elapsed_hours"
    assert s.press("F10") is False


def test_mouse_click_sorts_by_a_title_and_selects_a_row_and_the_wheel_scrolls(demo_root):
    s = session(demo_root)
    s.height = 30
    from sb.ui.view import frame, plain
    header = plain(frame(s.scene(), s.view, 120, 30))[4]
    s.click(header.index("Jobs"), 4, 120)
    assert s.view.sort == "jobs"
    s.click(10, 7, 120)                       # the third row on screen
    assert s.view.cursor == 2
    s.wheel(1)
    assert s.view.cursor == 5


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


def sgr_colours(raw):
    """Colour parameters (30-49, 90-107) in the SGR sequences a program wrote."""
    import re
    found = set()
    for params in re.findall(rb"\x1b\[([0-9;]*)m", raw):
        numbers = [int(p) for p in params.split(b";") if p]
        found |= {n for n in numbers if 30 <= n <= 49 or 90 <= n <= 107}
    return found


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_monochrome_leaves_the_terminal_its_own_colours(demo_root, how):
    argv, env = board_command(demo_root, *(["--no-color"] if how == "--no-color" else []))
    if how == "NO_COLOR":
        env["NO_COLOR"] = "1"
    term = terminal.Terminal(argv, 100, 30, env)
    try:
        text = term.wait_text(" of 48 ")
        assert sgr_colours(term.raw) <= {39, 49}, sgr_colours(term.raw)     # defaults only: no 37;40
        assert b"\x1b[1m" in term.raw or b";1m" in term.raw or b"\x1b[0;1m" in term.raw   # bold stays
        assert "ranked by CPU hours" in text
        term.send("q")
        assert term.wait_exit() == 0
    finally:
        term.close()


@pytest.mark.parametrize("term_name", ["dumb", None])
def test_a_dumb_or_unset_terminal_gets_no_escapes(demo_root, term_name):
    argv, env = board_command(demo_root, "--limit", "3")
    if term_name:
        env["TERM"] = term_name
    else:
        env.pop("TERM")
    term = terminal.Terminal(argv, 120, 30, env)
    try:
        assert term.wait_exit() == 0
        assert b"\x1b" not in term.raw, term.raw[:300]
        assert " 1-3 of 48 " in term.text()
    finally:
        term.close()


def test_sighup_restores_the_terminal_and_exits_quietly(demo_root):
    import signal
    argv, env = board_command(demo_root)
    term = terminal.Terminal(argv, 100, 30, env)
    try:
        term.wait_text(" of 48 ")
        os.kill(term.pid, signal.SIGHUP)
        assert term.wait_exit() == 0
        assert term.raw.rfind(b"\x1b[?1049l") > term.raw.rfind(b"\x1b[?1049h") >= 0     # left the alternate screen
        assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[?25l")              # cursor visible again
        assert b"Traceback" not in term.raw
    finally:
        term.close()


def test_function_keys_ctrl_l_and_the_mouse_on_a_real_terminal(demo_root):
    argv, env = board_command(demo_root)
    term = terminal.Terminal(argv, 120, 30, env)
    try:
        text = term.wait_text(" of 48 ")
        header = text.splitlines()[4]
        x = header.index("Jobs") + 1                                  # 1-based for the terminal
        term.send("\x1b[<0;{};5M".format(x), "\x1b[<0;{};5m".format(x))   # click the Jobs title (SGR mouse)
        text = term.wait_text("ranked by jobs")
        assert screen_rows(text) == expect(BOTH, "alltime", "jobs", 22)
        term.send("\x1b[<0;10;8M", "\x1b[<0;10;8m")                   # the third row
        third = expect(BOTH, "alltime", "jobs", 3)[2]
        term.wait_text("#{} {}:".format(*third))
        term.send("\x1b[<65;10;8M")                                   # wheel down: three rows
        sixth = expect(BOTH, "alltime", "jobs", 6)[5]
        term.wait_text("#{} {}:".format(*sixth))
        term.send("\x1bOP")                                           # F1: help
        term.wait_text("q Esc ? close")
        term.send("\x1b[B", "q")                                      # Down scrolls the help, q closes it
        term.wait_text(" of 48 ")
        term.send("\x0c")                                             # Ctrl-L repaints
        term.wait_text(" of 48 ")
        term.send("\x1b[21~")                                         # F10 quits
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_without_textual_the_fallback_notice_shows_on_the_board(demo_root, monkeypatch):
    import io
    from sb.ui import screen
    seen = {}
    monkeypatch.setattr(tui, "textual_available", lambda: False)
    monkeypatch.setattr(screen, "terminal_supported", lambda env: True)
    monkeypatch.setattr(screen, "run_curses",
                        lambda session, refresh, color: seen.setdefault("m", session.view.message) and 0)

    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdin", Tty())
    err = io.StringIO()
    argv = ["tui", "--root", demo_root, "--now", DEMO_NOW, "--backend", "textual"]
    assert cli.main(argv, env={"TERM": "xterm"}, out=Tty(), err=err) == 0
    assert "textual needs Python 3.9+" in seen["m"] and "textual needs" in err.getvalue()


def test_textual_header_footer_and_help_read_like_the_curses_board(demo_root):
    pytest.importorskip("textual")
    import asyncio
    from sb.ui.textual_board import Board
    from sb.ui.view import HINTS
    from textual.widgets import Static

    async def drive():
        app = Board(session(demo_root), 5)
        async with app.run_test(size=(160, 40)) as pilot:
            info = str(app.query_one("#info", Static).render())
            await pilot.press("question_mark")
            status = str(app.query_one("#status", Static).render())
            await pilot.press("escape")
            closed = app.session.view.mode
            await pilot.press("q")
        return info, status, closed

    info, status, closed = asyncio.run(drive())
    assert "ranked by CPU hours" in info and "clock_hours" not in info
    assert [b[2] for b in Board.BINDINGS] == [what for _, what in HINTS]
    assert status.count("\n") > 10 and "sort by the selected column" in status
    assert closed == "table"


def test_a_terminal_closed_without_sighup_ends_the_board_instead_of_spinning(demo_root, tmp_path):
    import shlex
    import time
    argv, env = board_command(demo_root, "--refresh-sec", "0.3")
    done = str(tmp_path / "status")
    script = "trap '' HUP; {} 2>{}; echo $? > {}".format(" ".join(shlex.quote(a) for a in argv),
                                                          shlex.quote(str(tmp_path / "err")), shlex.quote(done))
    term = terminal.Terminal(["sh", "-c", script], 100, 30, env)
    try:
        term.wait_text(" of 48 ")
        os.close(term.fd)                       # the terminal goes away; sh ignores the hang-up
        term.fd = os.open(os.devnull, os.O_RDONLY)
        end = time.monotonic() + 15
        while time.monotonic() < end and not (os.path.exists(done) and open(done).read().strip()):
            time.sleep(0.1)
        assert open(done).read().strip() == "0"
        assert "Traceback" not in open(str(tmp_path / "err")).read()
    finally:
        term.close()


def test_v_switches_to_clans_and_partitions_with_their_member_counts(demo_root):
    # issue 12 §1: the same board for accounts and partitions; ALL merges them by name, users the union
    from sb.ui.view import frame
    s = session(demo_root)
    s.press("v")
    assert s.view.by == "account"
    doc = json.loads(tui_json(demo_root, "--by", "account"))
    assert [name for _, name in s.rows()] == [row["account"] for row in doc["rows"]]
    text = "\n".join("".join(t for t, _ in line) for line in frame(s.scene(), s.view, 100, 12))
    assert "Clan" in text and "Users" in text and "clans" in text
    top = doc["rows"][0]
    assert " {} ".format(top["account"]) in text and " {} ".format(top["users"]) in text
    s.press("v")
    assert s.view.by == "partition" and "Partition" in "\n".join(
        "".join(t for t, _ in line) for line in frame(s.scene(), s.view, 100, 12))
    s.press("v")
    assert s.view.by == "user"


def tui_json(root, *args):
    out = io.StringIO()
    assert cli.main(["tui", "--root", root, "--json", "--now", DEMO_NOW] + list(args), out=out, err=io.StringIO()) == 0
    return out.getvalue()


def test_p_flips_to_efficiency_and_its_ranking_leaves_out_players_below_the_core_hours_floor(demo_root):
    # issue 12 §2: a ratio ranks only players with efficiency_min_core_hours (10) core-hours; the others are
    # shown unranked after them; every figure equals the JSON row's
    rows = json.loads(tui_json(demo_root, "--window", "30d"))["rows"]
    ranked = sorted((r for r in rows if r["clock_hours"] >= 10 and r["cpu_efficiency"] is not None),
                    key=lambda r: (-r["cpu_efficiency"], r["user"]))
    s = session(demo_root, window="30d")
    s.press("p")
    assert s.view.page == "efficiency"
    s.press("s")                          # the first skill of the page: CPU efficiency
    assert s.view.sort == "cpu_efficiency"
    got = s.rows()
    assert [user for rank, user in got if rank is not None] == [r["user"] for r in ranked]
    assert [rank for rank, _ in got[:len(ranked)]] == list(range(1, len(ranked) + 1))
    assert {user for rank, user in got if rank is None} == {r["user"] for r in rows} - {r["user"] for r in ranked}
    doc = json.loads(tui_json(demo_root, "--window", "30d", "--sort", "cpu_efficiency"))
    assert [r["user"] for r in doc["rows"] if r["rank"] is not None] == [r["user"] for r in ranked]
    s.press("p")
    assert s.view.page == "usage"


def test_a_site_can_hide_the_efficiency_page(demo_root):
    s = session(demo_root)
    s.show_efficiency = False
    s.press("p")
    assert s.view.page == "usage" and "hidden" in s.view.message

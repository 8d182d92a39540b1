"""Layout: hand-built scenes → frames, compared with golden frames written by hand (tests/golden/frames).

The rows below are in the order a person ranks them by eye; levels in the goldens were worked out from the
published OSRS XP table (see test_skills.py) with the default XP per unit, e.g. alice's 1,000 CPU-h at
10 XP/h = 10,000 XP, level 27 (9,730 <= 10,000 < 10,824)."""
import os
import re

import pytest

from sb.ui import screen, view
from sb.scores.skills import Theme

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "frames")

# counters: jobs, gpu_jobs, failed_jobs, elapsed_s, cpu_s, gpu_elapsed_s, gpu_s, req/avg/max mem KiB
ALICE = [10, 2, 1, 36000, 3600000, 7200, 14400, 10485760, 1048576, 2097152]   # 1,000 CPU-h, 4 GPU-h
BOB = [5, 0, 0, 18000, 180000, 0, 0, 5242880, 524288, 1048576]                 # 50 CPU-h
CAROL_ALL = [4, 0, 2, 10800, 21600, 0, 0, 1048576, 0, 0]                       # 2 jobs on each cluster
DAVE = [20, 20, 0, 72000, 720000, 72000, 288000, 20971520, 2097152, 4194304]   # 200 CPU-h, 80 GPU-h
BOB_30 = [4, 0, 1, 7200, 720000, 0, 0, 0, 0, 0]
ALICE_30 = [3, 0, 0, 3600, 36000, 0, 0, 0, 0, 0]
DAVE_30 = [3, 3, 0, 3600, 3600, 3600, 7200, 0, 0, 0]

BOTH = ["hammer", "negishi"]
AGES = [("hammer", 240, False), ("negishi", 7200, True)]


def scene(rows, clusters=BOTH, ages=AGES):
    counters = {user: c for _, user, c in rows}
    return view.Scene([(rank, user) for rank, user, _ in rows], len(rows), counters.__getitem__, clusters, ages, [],
                      Theme(), False, max(len(user) for _, user, _ in rows))


def all_by_cpu():
    return scene([(1, "alice", ALICE), (2, "dave", DAVE), (3, "bob", BOB), (4, "carol", CAROL_ALL)])


def golden(name):
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as handle:
        return handle.read().split("\n")[:-1]


def size_of(name):
    return tuple(int(n) for n in re.search(r"(\d+)x(\d+)", name).groups())


def check(name, the_scene, the_view, glyphs="unicode"):
    width, height = size_of(name)
    lines = view.frame(the_scene, the_view, width, height, glyphs)
    assert len(lines) == height
    assert all(len(text) == width for text in view.plain(lines))
    assert view.plain(lines) == golden(name)
    return lines


def test_all_clusters_all_time():
    check("all-alltime-60x16.txt", all_by_cpu(), view.View())


def test_one_cluster_hides_what_only_the_sum_shows():
    # carol has 2 jobs on hammer: below min_jobs there, so only ALL (4 jobs) lists her
    rows = [(1, "alice", ALICE), (2, "bob", BOB)]
    check("hammer-alltime-60x16.txt", scene(rows, ["hammer"], AGES[:1]), view.View("hammer"))


def test_thirty_day_window():
    rows = [(1, "bob", BOB_30), (2, "alice", ALICE_30), (3, "dave", DAVE_30)]
    check("all-30d-60x16.txt", scene(rows), view.View(window="30d"))


def test_sorted_by_jobs_ascending_scrolls_the_columns_to_the_selection():
    rows = [(4, "carol", CAROL_ALL), (3, "bob", BOB), (2, "alice", ALICE), (1, "dave", DAVE)]
    check("all-jobs-asc-60x16.txt", scene(rows), view.View(sort="jobs", descending=False))


def test_search_prompt_cursor_and_highlight():
    the_view = view.View()
    the_view.mode, the_view.typed, the_view.search, the_view.cursor = "search", "o", "o", 2
    lines = check("all-search-o-60x16.txt", all_by_cpu(), the_view)
    styles = {text.strip(): style for text, style in lines[7] + lines[8]}
    assert styles["bob"] == "cursor"            # the cursor row, on the first match
    assert styles["carol"] == "match"           # the other match, highlighted
    assert {text.strip(): style for text, style in lines[5]}["alice"] == "gold"   # number one, no match


def test_tiny_terminal_keeps_the_board_usable():
    check("all-tiny-40x10.txt", all_by_cpu(), view.View())


def test_ascii_fallback():
    check("all-ascii-60x16.txt", all_by_cpu(), view.View(), glyphs="ascii")


def test_glyphs_follow_the_locale_encoding():
    assert screen.glyph_set("UTF-8") == screen.glyph_set("utf8") == "unicode"
    assert screen.glyph_set("ANSI_X3.4-1968") == screen.glyph_set(None) == "ascii"


def test_no_color_leaves_only_bold_reverse_dim_and_underline():
    lines = view.frame(all_by_cpu(), view.View(), 60, 16)
    colored = "".join(screen.ansi_lines(lines, color=True))
    mono = "".join(screen.ansi_lines(lines, color=False))
    codes = lambda text: {c for sgr in re.findall(r"\x1b\[([0-9;]*)m", text) for c in sgr.split(";")}  # noqa
    assert {"33", "32"} <= codes(colored)
    assert codes(mono) <= {"0", "1", "2", "4", "7"} and "1" in codes(mono)
    assert re.sub(r"\x1b\[[0-9;]*m", "", mono).split("\n") == re.sub(r"\x1b\[[0-9;]*m", "", colored).split("\n")
    assert screen.color_wanted(False, {}) and not screen.color_wanted(True, {})
    assert not screen.color_wanted(False, {"NO_COLOR": "1"}) and screen.color_wanted(False, {"NO_COLOR": ""})


@pytest.mark.parametrize("width, height", [(29, 20), (80, 6), (10, 3)])
def test_too_small_says_so_instead_of_drawing_garbage(width, height):
    lines = view.plain(view.frame(all_by_cpu(), view.View(), width, height))
    assert len(lines) == height and all(len(line) == width for line in lines)
    assert lines[0].startswith("Terminal too small"[:width])


def test_help_replaces_the_table():
    the_view = view.View()
    the_view.mode = "help"
    text = "\n".join(view.plain(view.frame(all_by_cpu(), the_view, 100, 30)))
    for key in ("Tab", "s ", "m ", "w ", "g ", "/ ", "f ", "r ", "q "):
        assert "\n┃  " + key in text
    assert "alice" not in text and "Old School RuneScape" in text


def test_scrolling_keeps_the_cursor_on_screen():
    rows = [(n, "u{:03d}".format(n), BOB) for n in range(1, 101)]
    the_view = view.View()
    the_view.cursor = 57
    lines = view.plain(view.frame(scene(rows), the_view, 80, 20))
    body = view.body_height(20)
    shown = [line.split()[2] for line in lines[5:5 + body]]
    assert "u058" in shown and shown[-1] == "u058"       # scrolled just far enough
    assert " {}-{} of 100 ".format(58 - body + 1, 58) in lines[5 + body]

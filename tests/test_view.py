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


def v1(counters):
    """A counter row written in the first release's ten columns (memory in KiB) → today's."""
    from sb.store.counters import from_v1
    return from_v1(counters)


# counters: jobs, gpu_jobs, failed_jobs, elapsed_s, cpu_s, gpu_elapsed_s, gpu_s, req/avg/max mem KiB
ALICE = v1([10, 2, 1, 36000, 3600000, 7200, 14400, 10485760, 1048576, 2097152])   # 1,000 CPU-h, 4 GPU-h
BOB = v1([5, 0, 0, 18000, 180000, 0, 0, 5242880, 524288, 1048576])                 # 50 CPU-h
CAROL_ALL = v1([4, 0, 2, 10800, 21600, 0, 0, 1048576, 0, 0])                       # 2 jobs on each cluster
DAVE = v1([20, 20, 0, 72000, 720000, 72000, 288000, 20971520, 2097152, 4194304])   # 200 CPU-h, 80 GPU-h
BOB_30 = v1([4, 0, 1, 7200, 720000, 0, 0, 0, 0, 0])
ALICE_30 = v1([3, 0, 0, 3600, 36000, 0, 0, 0, 0, 0])
DAVE_30 = v1([3, 3, 0, 3600, 3600, 3600, 7200, 0, 0, 0])

BOTH = ["hammer", "negishi"]
AGES = [("hammer", 240, False, ""), ("negishi", 7200, True, "")]


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


@pytest.mark.parametrize("width, height", [(29, 20), (80, 6), (10, 3), (29, 7)])
def test_too_small_says_so_instead_of_drawing_garbage(width, height):
    lines = view.plain(view.frame(all_by_cpu(), view.View(), width, height))
    assert len(lines) == height and all(len(line) == width for line in lines)
    words = " ".join(lines).split()
    message = "Terminal too small: {}x{}, need 30x7".format(width, height).split()
    assert words == message[:len(words)] and len(words) >= min(len(message), height)   # whole words, wrapped
    if height >= 4:
        assert words == message                                                         # all of it


def test_help_replaces_the_table():
    the_view = view.View()
    the_view.mode = "help"
    text = "\n".join(view.plain(view.frame(all_by_cpu(), the_view, 100, 32)))
    for key in ("Tab", "s ", "m ", "w ", "g ", "v ", "p ", "/ ", "f ", "r ", "q "):
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


# ---- issue 15: the board in a real terminal ----------------------------------------------------

def text_of(the_scene, the_view, width, height, glyphs="unicode"):
    lines = view.plain(view.frame(the_scene, the_view, width, height, glyphs))
    assert len(lines) == height and all(len(line) == width for line in lines)
    return lines


def test_data_line_keeps_stale_clusters_and_counts_the_rest():
    ages = [("c{}".format(n), 60 * n, False, "") for n in range(1, 9)] + [("echo", 3 * 86400, True, ""),
                                                                        ("zulu", None, False, "unreadable")]
    names = [c for c, _, _, _ in ages]
    lines = text_of(scene([(1, "alice", ALICE)], names, ages), view.View(), 80, 24)
    data = lines[2]
    assert "echo 3 d ago (stale)" in data and "zulu unreadable" in data
    hidden = sum(1 for c in names if " {} ".format(c) not in data)
    assert hidden and data.rstrip(" ┃").endswith("+{} more".format(hidden))
    # wide enough: every cluster, no "more"
    assert "more" not in text_of(scene([(1, "alice", ALICE)], names, ages), view.View(), 260, 24)[2]


def test_a_long_problem_is_cut_at_a_word_and_shown_whole_on_the_help_page():
    problem = "/shared/root/clusters/hammer/agg/leaderboards/alltime.json: not valid JSON (Expecting value: " \
              "line 1 column 9 (char 8)); the next poll rewrites it"
    the_scene = all_by_cpu()._replace(problems=[problem])
    bottom = text_of(the_scene, view.View(), 80, 24)[-1]
    assert bottom.rstrip().endswith("... (? shows all)")
    shown = bottom.rstrip()[:-len(" ... (? shows all)")]
    assert problem.startswith(shown) and problem[len(shown)] == " "      # cut between words
    the_view = view.View()
    the_view.mode = "help"
    page = " ".join(" ".join(text_of(the_scene, the_view, 80, 24)).replace("┃", " ").split())
    assert problem in page


def test_header_names_filters_user_pattern_and_search_and_an_empty_board_says_why():
    the_view = view.View()
    the_view.filter_text, the_view.search = "jobs>=10", "ali"
    empty = all_by_cpu()._replace(rows=[], count=0, pattern="u001*",
                                  empty="no players: --user 'u001*' hides all 4 players; f then Enter on an empty line clears")
    lines = text_of(empty, the_view, 120, 24)
    assert "filter jobs>=10 · user u001* · search ali" in lines[1]
    assert "no players: --user 'u001*' hides all 4 players" in lines[5]


def test_sorted_total_and_user_titles_keep_the_columns_aligned():
    for sort, title in (("level", "Total▼"), ("user", "User▲")):
        the_view = view.View(sort=sort, descending=sort != "user")
        lines = text_of(all_by_cpu(), the_view, 60, 16)
        header, row = lines[4], lines[5]
        end = header.index(title) + len(title)
        if sort == "level":     # the title ends where the total does
            assert row[end - 2:end] == "64" and row[end] == " "
        else:                   # the title starts where the names do
            assert row[header.index(title):].startswith("alice")
        assert header.rstrip(" ┃").endswith("▶") and len(header.split()) == 9


def test_ascii_sort_arrow_does_not_glue_to_the_title():
    lines = text_of(all_by_cpu(), view.View(), 60, 16, "ascii")
    assert "CPU-h v" in lines[4] and "CPU-hv" not in lines[4]


def test_no_left_arrow_when_nothing_is_hidden_on_the_left_and_the_tip_is_whole_or_absent():
    lines = text_of(all_by_cpu(), view.View(sort="jobs"), 30, 7)
    assert "◀" not in "".join(lines)
    for width in range(30, 90):
        tipped = all_by_cpu()._replace(tip=True)
        tip = text_of(tipped, view.View(), width, 16)[-1].rstrip()
        assert tip in view.TIPS or tip == "", (width, tip)
        assert tip or width < len(view.TIPS[-1])


def test_every_skill_fits_at_120_columns_with_long_names():
    rows = [(1, "a-twelve-chr", ALICE), (2, "bob", BOB)]
    lines = text_of(scene(rows), view.View(), 120, 24)
    assert lines[4].strip("┃ ").split()[3:] == ["CPU-h▼", "Elap-h", "GPU-h", "GPUel-h", "Jobs", "GPUjobs", "Fails",
                                                "ReqMem", "MaxRSS", "AveRSS"]
    # alice: 1 failed job, 10 GiB requested, 1 GiB max RSS (the max column), 2 GiB average: no levels after them
    assert lines[5].strip("┃ ").split()[-4:] == ["1", "10G", "2G", "1G"]
    assert view.natural_width(scene(rows)) <= 120


def test_tiny_values_never_show_as_zero():
    tiny = v1([5, 0, 0, 3600, 3600, 8, 8, 0, 0, 0])       # 8 GPU-seconds: 0.0022 GPU-hours
    rows = [(1, "gpuman", tiny)]
    lines = text_of(scene(rows), view.View(sort="gpu_clock_hours"), 120, 24)
    assert "<0.01  1" in lines[5]
    assert "#1 gpuman: <0.01 GPU-h" in lines[-3]


def test_help_scrolls_and_shows_where_it_is():
    the_view = view.View()
    the_view.mode = "help"
    first = text_of(all_by_cpu(), the_view, 80, 24)
    assert " 1-17 of " in first[-3] and "q Esc ? close" in first[-3]
    the_view.help_top = 100            # past the end: the last page
    last = text_of(all_by_cpu(), the_view, 80, 24)
    count = len(view.help_text(all_by_cpu(), 78))
    assert " {}-{} of {} ".format(count - 16, count, count) in last[-3]
    assert "Rank" in last[-4]


def test_help_entries_wrap_instead_of_being_cut():
    for width in (80, 60):
        lines = [text for text, _ in view.help_text(all_by_cpu(), width - 2)]
        assert all(len(line) <= width - 2 for line in lines)
        words = " ".join(" ".join(lines).split())
        assert "hammer >=100, gpu-h>=1k; f then Enter on an empty line clears the filter and --user" in words


def with_efficiency(counters, used_ms=0, req_b_s=0, used_b_s=0, limit_s=0, limited_s=0, wait_s=0):
    row = list(counters)
    row[10:17] = [used_ms, limit_s, limited_s, wait_s, 1 if req_b_s else 0, req_b_s, used_b_s]
    return row


def test_the_efficiency_page_shows_percent_levels_waste_and_unknown_as_a_dash():
    # alice: 1,000 CPU-h held, 500 used: 50 % (level 1 + 98 x 0.5 = 50), 500 CPU-h wasted; memory 1,000 of
    # 4,000 MB-h: 25 % (level 1 + round(24.5) = 25), 3,000 MB-h = 2.93 GB-h wasted; 10 jobs waited 36,000 s: 1 h
    # each. bob: no CPU time recorded (0 %), no memory sample and no time limit: '-', unranked ones greyed.
    mb_h = (1 << 20) * 3600
    alice = with_efficiency(ALICE, used_ms=500 * 3600 * 1000, req_b_s=4000 * mb_h, used_b_s=1000 * mb_h,
                            limit_s=72000, limited_s=36000, wait_s=36000)
    rows = [(1, "alice", alice), (None, "bob", BOB)]
    the_scene = scene(rows)._replace(page="efficiency", min_core_s=100 * 3600)
    lines = view.plain(view.frame(the_scene, view.View(sort="cpu_efficiency"), 100, 12))
    assert lines[4].split()[:9] == ["┃", "Rank", "User", "Total", "CPU%▼", "Mem%", "Time%", "GPU%", "WasteC"]
    alice_cells = lines[5].strip("┃ ").split()
    assert alice_cells[:3] == ["♛", "1", "alice"]
    assert alice_cells[4:12] == ["50%", "50", "25%", "25", "50%", "50", "-", "500"]
    assert alice_cells[12:14] == ["2.93", "1"]
    bob_cells = lines[6].strip("┃ ").split()
    assert bob_cells[0] == "-" and bob_cells[3:6] == ["0%", "1", "-"]
    styles = [style for text, style in view.frame(the_scene, view.View(sort="cpu_efficiency"), 100, 12)[6]
              if "bob" in text]
    assert styles == ["dim"]           # below the core-hours floor: greyed

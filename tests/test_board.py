"""The one-shot board (`tui --backend ansi`, `--json`): ranks for a cluster or ALL, every window, vs the oracle."""
import glob
import io
import json
import os
import re

import pytest

import oracle
from conftest import DEMO_NOW, demo_ranking
from sb import cli
from sb.store.counters import COLUMNS

NOW = DEMO_NOW


@pytest.fixture(scope="module")
def root(demo_root):
    return demo_root


def expected(clusters, window, metric, min_jobs=3, pattern=None):
    import fnmatch
    return [(u, v) for u, v in demo_ranking(clusters, window, metric, min_jobs)
            if not pattern or fnmatch.fnmatchcase(u, pattern)]


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
    total = lines[4].strip("┃|").split().index("Total")      # after the 7-day movement column, when shown
    for line in lines[5:-1]:
        cells = line.strip("┃|").replace("♛", " ").replace("*", " ").split()
        rows.append((int(cells[0].replace(",", "")), cells[1], cells[total + 1]))
    return lines, rows


@pytest.mark.parametrize("cluster", ["ALL", "hammer", "negishi"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
def test_ansi_table_ranks_match_the_oracle(root, cluster, window):
    text = tui(root, "--backend", "ansi", "--cluster", cluster, "--window", window, "--sort", "gpu_clock_hours")
    lines, rows = table_rows(text)
    assert "ranked by GPU hours" in lines[1] and cluster in lines[1]
    assert lines[4].split()[1:5] == ["Rank", "User", "7d", "Total"]
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


def write_board(root, cluster, window_file, totals, min_jobs=3):
    from sb.store.leaderboards import board_json
    path = os.path.join(root, "clusters", cluster, "agg", "leaderboards")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, window_file + ".json"), "wb") as handle:
        handle.write(board_json(window_file, cluster, min_jobs, {(user, "phys", "cpu"): c for user, c in totals.items()},
                                1700000000))
    return os.path.join(path, window_file + ".json")


def counters(jobs, cpu_hours=0):
    from sb.store.counters import WIDTH
    return [jobs, 0, 0, 0, cpu_hours * 3600] + [0] * (WIDTH - 5)


def test_all_sums_jobs_across_clusters_before_min_jobs_and_hides_opted_out_users(tmp_path):
    from sb.scores.board import Scores, eligible, ranking
    root = str(tmp_path)
    write_board(root, "hammer", "alltime", {"carol": counters(2, 5), "alice": counters(9, 1), "eve": counters(9, 99)})
    write_board(root, "negishi", "alltime", {"carol": counters(2, 5)})
    os.makedirs(os.path.join(root, "config"))
    with open(os.path.join(root, "config", "optout.txt"), "w") as handle:
        handle.write("eve  # asked on 2026-01-02\n")
    scores = Scores(root)
    assert scores.clusters == ["hammer", "negishi"]
    for clusters, want in ((["hammer"], ["alice"]), (["negishi"], []), (["hammer", "negishi"], ["carol", "alice"])):
        table = scores.table(clusters, "alltime")
        assert ranking(eligible(table, 3, scores.opted_out()), "clock_hours", table) == want, clusters
    assert scores.table(["hammer", "negishi"], "alltime").counters("carol") == counters(4, 10)


def test_refresh_rereads_only_the_files_that_changed(tmp_path):
    from sb.scores.board import Scores
    root = str(tmp_path)
    hammer = write_board(root, "hammer", "alltime", {"alice": counters(5, 1)})
    write_board(root, "negishi", "alltime", {"bob": counters(5, 2)})
    scores = Scores(root)
    first_h, first_n = scores.table(["hammer"], "alltime"), scores.table(["negishi"], "alltime")
    assert not scores.refresh()
    assert scores.table(["hammer"], "alltime") is first_h        # nothing re-parsed
    write_board(root, "hammer", "alltime", {"alice": counters(6, 1)})
    os.utime(hammer, ns=(os.stat(hammer).st_mtime_ns + 10 ** 9,) * 2)   # a new mtime even on coarse clocks
    assert scores.refresh()
    assert scores.table(["hammer"], "alltime").counters("alice")[0] == 6
    assert scores.table(["negishi"], "alltime") is first_n       # the unchanged cluster is not re-read


@pytest.mark.parametrize("content, words", [(b"{half", "not valid JSON"),
                                            (b'{"boards": {}}', "no counter table of this version"),
                                            (b'{"table": {"columns": ["user", "jobs", "gpu_jobs", "failed_jobs", '
                                             b'"elapsed_s", "cpu_s", "gpu_elapsed_s", "gpu_s", "req_mem_kib", '
                                             b'"avg_mem_kib", "max_mem_kib"], "data": [["a"], [1], [1], [1], '
                                             b'[1], [1], [1], [1], [1], [1], [1]]}}',
                                             "no counter table of this version"),    # the first release's
                                            (json.dumps({"table": {"columns": ["user"] + list(COLUMNS), "data": [
                                                ["a"]] + [["x"]] * len(COLUMNS)}}).encode(),
                                             "damaged counter table")])
def test_a_bad_board_file_is_reported_and_the_other_clusters_still_show(tmp_path, content, words):
    root = str(tmp_path)
    write_board(root, "negishi", "alltime", {"bob": counters(5, 2)})
    bad = write_board(root, "hammer", "alltime", {})
    with open(bad, "wb") as handle:
        handle.write(content)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["tui", "--root", root, "--json"], out=out, err=err) == 0
    assert [r["user"] for r in json.loads(out.getvalue())["rows"]] == ["bob"]
    assert err.getvalue().count("\n") == 1 and bad in err.getvalue() and words in err.getvalue()


@pytest.mark.parametrize("args, words", [
    (["--cluster", "nope"], "--cluster nope: no such cluster"), (["--cluster", "bogus"], "no such cluster"),
    (["--sort", "cpu:up"], "--sort cpu:up: expected COL[:asc|desc]"), (["--sort", "foo"], "--sort foo: expected"),
    (["--metric", "level"], "--metric level: expected a skill"), (["--limit", "-1"], "--limit -1: expected"),
    (["--refresh-sec", "abc"], "--refresh-sec: invalid float value"), (["--window", "7d"], "invalid choice"),
])
def test_usage_errors_exit_2_in_one_line(root, args, words, capsys):
    err = io.StringIO()
    try:
        code = cli.main(["tui", "--root", root] + args, out=io.StringIO(), err=err)
    except SystemExit as done:          # argparse's own checks
        code = done.code
    text = err.getvalue() + capsys.readouterr().err
    assert code == 2, text
    assert words in text and text.count("\n") == 1, text


@pytest.mark.parametrize("sort, metric", [("gpu-h", "gpu_clock_hours"), ("GPU-h:desc", "gpu_clock_hours"),
                                          ("maxrss", "sum_max_mem_mb"), ("total", "level"), ("name", "user")])
def test_sort_and_metric_take_the_names_on_screen_too(root, sort, metric):
    doc = json.loads(tui(root, "--json", "--sort", sort))
    assert doc["metric"] == metric
    if metric == "gpu_clock_hours":
        assert json.loads(tui(root, "--json", "--metric", sort.split(":")[0]))["metric"] == metric


def test_root_without_a_subcommand_opens_the_board(root):
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["--root", root, "--now", NOW, "--limit", "3"], out=out, err=err) == 0, err.getvalue()
    assert "SLURM Scoreboard" in out.getvalue() and " 1-3 of " in out.getvalue()


def test_damaged_cursor_times_and_an_unreadable_optout_list_do_not_crash_the_board(tmp_path):
    root = str(tmp_path)
    write_board(root, "hammer", "alltime", {"bob": counters(5, 2)})
    os.makedirs(os.path.join(root, "clusters", "hammer", "state"))
    with open(os.path.join(root, "clusters", "hammer", "state", "poll_cursor.json"), "w") as handle:
        handle.write('{"last_success": Infinity}')
    os.makedirs(os.path.join(root, "config", "optout.txt"))      # a directory where the list should be
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["tui", "--root", root, "--backend", "ansi"], out=out, err=err) == 0
    assert "bob" in out.getvalue() and "optout.txt: cannot read" in err.getvalue()


def test_huge_or_negative_counters_are_a_damaged_table(tmp_path):
    from sb.scores.board import Scores
    root = str(tmp_path)
    for value in (10 ** 400, -5):
        path = write_board(root, "hammer", "alltime", {"bob": counters(5, 2)})
        with open(path) as handle:
            text = handle.read()
        with open(path, "w") as handle:
            damaged = text.replace('[\n["bob"],\n[5]', '[\n["bob"],\n[{}]'.format(value))
            handle.write(re.sub(r',"crc32":"[0-9a-f]{8}"', "", damaged))   # as a file without a checksum: the table check
        scores = Scores(root)
        assert scores.table(["hammer"], "alltime").counters("bob") == counters(0)
        assert "damaged counter table" in "".join(scores.problems.values()), value


@pytest.mark.parametrize("args, words", [(["--refresh-sec", "3000000"], "--refresh-sec 3e+06: expected"),
                                         (["--refresh-sec", "0"], "--refresh-sec 0: expected")])
def test_refresh_interval_is_checked(root, args, words):
    err = io.StringIO()
    assert cli.main(["tui", "--root", root] + args, out=io.StringIO(), err=err) == 2
    assert words in err.getvalue()


def test_a_root_without_clusters_says_to_check_root(tmp_path):
    err = io.StringIO()
    assert cli.main(["tui", "--root", str(tmp_path)], out=io.StringIO(), err=err) == 1
    assert "no clusters under" in err.getvalue() and "check --root" in err.getvalue()


def test_c_locale_gets_ascii_even_where_python_writes_utf8(root):
    import subprocess
    import sys
    env = dict(os.environ, LC_ALL="C", PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("LANG", None)
    done = subprocess.run([sys.executable, "-m", "sb", "tui", "--root", root, "--limit", "2"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          errors="replace")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("+== * SLURM Scoreboard * ==")


# ---- issue 15 ----------------------------------------------------------------------------------

def widths(text):
    return {len(line) for line in text.splitlines()}


def test_printed_width_follows_width_then_columns_else_every_column(root, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    natural = widths(tui(root, "--limit", "3"))
    assert max(natural) <= 120          # every column, and it fits 120
    out = io.StringIO()
    assert cli.main(["tui", "--root", root, "--now", NOW, "--limit", "3"], env={"COLUMNS": "80"}, out=out,
                    err=io.StringIO()) == 0
    assert max(widths(out.getvalue())) == 80
    assert "▶" in out.getvalue().splitlines()[4]            # hidden columns are marked, as the README says
    assert max(widths(tui(root, "--limit", "3", "--width", "70"))) == 70


def test_limit_zero_says_why_nothing_is_printed(root):
    text = tui(root, "--backend", "ansi", "--limit", "0")
    assert "--limit 0: no rows printed of 48 players" in text


def test_json_has_total_xp(root):
    doc = json.loads(tui(root, "--json", "--limit", "1"))
    row = doc["rows"][0]
    assert row["total_xp"] == int(row["clock_hours"] * 10 + 1e-6) + int(row["elapsed_hours"] * 20 + 1e-6) + \
        int(row["gpu_clock_hours"] * 200 + 1e-6) + int(row["gpu_elapsed_hours"] * 250 + 1e-6) + \
        row["jobs"] * 100 + row["gpu_jobs"] * 1000


def run_tui(root, *args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["tui", "--root", root, "--json"] + list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_permission_denied_names_the_path(tmp_path):
    root = str(tmp_path)
    write_board(root, "negishi", "alltime", {"bob": counters(5, 2)})
    hammer = write_board(root, "hammer", "alltime", {"al": counters(5, 2)})
    folder = os.path.dirname(hammer)
    os.chmod(folder, 0)
    try:
        code, out, err = run_tui(root)
        assert code == 0 and "permission denied" in err and folder in err
        clusters = os.path.join(root, "clusters")
        os.chmod(clusters, 0)
        code, out, err = run_tui(root)
        assert code == 1 and "permission denied reading " + clusters in err
    finally:
        os.chmod(folder, 0o755)
        os.chmod(os.path.join(root, "clusters"), 0o755)


def test_four_troubles_read_differently(tmp_path):
    from sb.scores.board import Scores
    from sb.ui import tui as tui_module
    root = str(tmp_path)
    missing = tui_module.check_root(os.path.join(root, "nope"))
    assert "does not exist" in missing
    assert "no clusters under" in tui_module.check_root(root)
    write_board(root, "negishi", "alltime", {"bob": counters(5, 2)})
    bad = write_board(root, "hammer", "alltime", {})
    with open(bad, "wb") as handle:
        handle.write(b"{half")
    scores = Scores(root)
    scores.table(["hammer", "negishi"], "alltime")
    assert scores.trouble("hammer") == "damaged file" and scores.trouble("negishi") == ""
    assert "not valid JSON" in scores.problems[bad] and "the next poll rewrites it" in scores.problems[bad]
    assert scores.data_time("negishi", "alltime") is not None      # a replayed board: its file's time
    # a denied stat is told apart from a missing file, whoever runs the tests
    from sb.scores import board as board_module
    real = os.stat

    def denied(path, *args, **kwargs):
        if path == bad:
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args, **kwargs)
    board_module.os.stat = denied
    try:
        scores = Scores(root)
        scores.table(["hammer"], "alltime")
    finally:
        board_module.os.stat = real
    assert scores.trouble("hammer") == "unreadable" and "permission denied" in scores.problems[bad]


def test_a_board_empty_because_its_file_is_damaged_says_so(tmp_path):
    root = str(tmp_path)
    bad = write_board(root, "hammer", "alltime", {"al": counters(5, 2)})
    with open(bad, "wb") as handle:
        handle.write(b"{half")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["tui", "--root", root, "--backend", "ansi"], out=out, err=err) == 0
    assert "no players: cannot read hammer (damaged file)" in out.getvalue()
    assert "hammer damaged file" in out.getvalue().splitlines()[2]          # the Data line
    assert "not valid JSON" in err.getvalue()


def test_a_sealed_board_file_is_read_lazily_and_equals_the_whole_parse(root, tmp_path):
    """The first frame parses only what it shows (names, the usage columns of the rows drawn); what it reads
    must be exactly what a whole json parse with every value checked gives, for every table."""
    from sb.scores import boardfile as board_mod
    from sb.store.leaderboards import board_json
    odd = str(tmp_path / "odd.json")
    with open(odd, "wb") as handle:     # a cluster name that needs escapes, a group of one
        handle.write(board_json("alltime", 'we"ird\\name', 2, {("a", "x", "p"): list(range(1, 21))}, 0))
    paths = glob.glob(os.path.join(root, "clusters", "*", "agg", "leaderboards", "*.json")) + [odd]
    for path in paths:
        if "moves-7d" in path:
            continue
        lazy, whole = board_mod.parse_board(path), board_mod._parsed_board(path)
        assert type(lazy.columns).__name__ == "Lines", path
        for index in (0, 4, 19):       # one value at a time (split at commas) equals the parsed column
            assert [lazy.columns.value(index, at) for at in range(len(lazy.names))] == whole.columns[index]
        assert (lazy.min_jobs, lazy.names, list(lazy.columns)) == (whole.min_jobs, whole.names, whole.columns)
        for by in ("account", "partition"):
            assert lazy.groups[by] == whole.groups[by], (path, by)
    plain = str(tmp_path / "plain.json")          # no checksum: read whole and checked
    with open(plain, "wb") as handle:
        handle.write(open(paths[0], "rb").read().rsplit(b',"crc32"', 1)[0] + b"}\n")
    assert type(board_mod.parse_board(plain).columns) is list


def test_the_first_usage_frame_leaves_the_efficiency_columns_unparsed(root):
    from sb.scores.board import Scores
    from sb.scores.skills import Theme
    from sb.store.counters import INDEX
    from sb.ui import tui, view
    s = tui.Session(Scores(root), Theme(), view.View(), cli.clock_from(NOW))
    view.frame(s.scene(), s.view, 160, 40)
    boards = [b for _, b in (s.scores._board(c, "alltime") for c in s.scores.clusters)]
    def read(b, i):     # parsed whole (a ranking asked), or split for the values of the rows drawn
        return b.columns._parsed[i] is not None or i in b.columns._tokens
    assert all(b.columns._parsed[INDEX["cpu_s"]] is not None for b in boards)     # ranked on: parsed
    assert all(read(b, INDEX["elapsed_s"]) for b in boards)                       # shown: at least split
    assert not any(read(b, INDEX["cpu_used_ms"]) or read(b, INDEX["gpu_busy_pct_s"]) for b in boards)
    assert all("account" not in b.groups for b in boards)       # nor a group table
    s.press("p")                                                # the efficiency page reads them
    view.frame(s.scene(), s.view, 160, 40)
    assert all(read(b, INDEX["cpu_used_ms"]) for b in boards)

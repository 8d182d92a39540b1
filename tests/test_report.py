"""`report`: the page's data equals `tui --json` board for board, the months equal an independent count of the
demo's sacct dumps, opt-outs and min_jobs hold, no job names, and DIR/index.html is written atomically, 0644."""
import hashlib
import io
import json
import os
import re
import shutil

import pytest

from conftest import DEMO, DEMO_NOW, REPO, demo_ranking, load_json, oracle_monthly
from sb import cli
from sb.report import command, data as report_data, page


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def tui_json(root, cluster, window, by="user"):
    code, out, err = run("tui", "--root", root, "--json", "--cluster", cluster, "--window", window, "--by", by,
                         "--now", DEMO_NOW)
    assert code == 0, err
    return json.loads(out)


def page_data(path):
    """The data the page carries, read back out of index.html."""
    text = open(path, encoding="utf-8").read()
    found = re.search(r'<script type="application/json" id="sb-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def report(demo_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("report"))
    code, said, err = run("report", "--out", out, "--root", demo_root, "--now", DEMO_NOW)
    assert code == 0 and err == "", err
    assert said.startswith("wrote " + os.path.join(out, "index.html"))
    return os.path.join(out, "index.html")


def rows_of(board):
    return [dict(zip(board["columns"], values)) for values in board["rows"]]


@pytest.mark.parametrize("cluster", ["ALL", "hammer", "negishi"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
def test_every_board_is_the_tui_json_board(report, demo_root, cluster, window):
    board = page_data(report)["boards"]["{}/{}/user".format(cluster, window)]
    expected = tui_json(demo_root, cluster, window)
    assert rows_of(board) == expected["rows"] and expected["rows"]
    assert board["players"] == len(expected["rows"]) and board["min_jobs"] == expected["min_jobs"] == 3


@pytest.mark.parametrize("cluster", ["ALL", "hammer", "negishi"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
def test_ranks_and_min_jobs_match_an_independent_count_of_the_dumps(report, cluster, window):
    """The oracle reads the sacct dumps itself; nobody with fewer than 3 jobs is on a board."""
    clusters = ["hammer", "negishi"] if cluster == "ALL" else [cluster]
    board = rows_of(page_data(report)["boards"]["{}/{}/user".format(cluster, window)])
    expected = demo_ranking(clusters, window, "clock_hours")
    assert [r["user"] for r in board] == [u for u, _ in expected]
    assert [r["clock_hours"] for r in board] == pytest.approx([v for _, v in expected], rel=1e-9)
    assert min(r["jobs"] for r in board) >= 3


def test_the_monthly_charts_match_an_independent_count_of_the_dumps(report):
    charts = page_data(report)["charts"]
    assert len(charts["months"]) == 36 and charts["months"][-1] == "2026-11"
    for cluster in ("hammer", "negishi"):
        monthly = oracle_monthly(os.path.join(DEMO, cluster + ".db"))
        for key, metric in (("core_hours", "clock_hours"), ("gpu_hours", "gpu_clock_hours")):
            expected = [sum(u[metric] for u in monthly.get(m, {}).values()) for m in charts["months"]]
            assert charts[key][cluster] == pytest.approx(expected, rel=1e-9, abs=1e-9), (cluster, key)
            assert sum(expected) > 0


def test_top_players_are_the_365d_board_and_their_history_sums_to_it(report):
    data = page_data(report)
    top = data["charts"]["top"]["series"]
    board = rows_of(data["boards"]["ALL/365d/user"])
    assert list(top) == [r["user"] for r in board[:10]]
    # the 365 days ending 2026-10-31 cover the last 12 months (Nov 2025 .. Oct 2026) and a day of Oct 2025
    for row in board[:10]:
        assert sum(data["players"][row["user"]][-13:]) >= row["clock_hours"] - 0.01 * 13


def test_efficiency_charts_are_each_months_sums_and_clans_and_the_histogram_are_shown(report, demo_root):
    charts = page_data(report)["charts"]
    month = "2026-09"
    doc = load_json(os.path.join(demo_root, "clusters", "hammer", "agg", "rollups", "monthly", month + ".json"))
    sums = [sum(column) for column in zip(*(row["counters"] for row in doc["users"]))]
    c = dict(zip(doc["columns"], sums))
    at = charts["months"].index(month)
    assert charts["efficiency"]["cpu"]["series"]["hammer"][at] == pytest.approx(
        100.0 * c["cpu_used_ms"] / (c["cpu_s"] * 1000))
    assert charts["efficiency"]["mem"]["series"]["hammer"][at] == pytest.approx(
        100.0 * c["used_mem_b_s"] / c["req_mem_b_s"])
    accounts = tui_json(demo_root, "ALL", "alltime", "account")["rows"]
    assert charts["clans"] == {row["account"]: row["clock_hours"] for row in accounts}
    players = tui_json(demo_root, "ALL", "alltime")["rows"]
    assert sum(charts["cpu_histogram"]) == len([r for r in players if r["cpu_efficiency"] is not None])


def test_opted_out_players_are_nowhere_on_the_page(demo_root, tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    top = tui_json(root, "ALL", "alltime")["rows"][0]["user"]
    os.makedirs(os.path.join(root, "config"), exist_ok=True)
    with open(os.path.join(root, "config", "optout.txt"), "w") as handle:
        handle.write(top + "\n")
    assert run("report", "--out", str(tmp_path / "web"), "--root", root, "--now", DEMO_NOW)[0] == 0
    text = open(str(tmp_path / "web" / "index.html"), encoding="utf-8").read()
    assert top not in text
    data = page_data(str(tmp_path / "web" / "index.html"))
    assert top not in data["players"]
    # and the monthly totals leave them out too: they are smaller than with everyone counted
    with_all = sum(page_data_for(demo_root, tmp_path)["charts"]["core_hours"]["negishi"])
    assert sum(data["charts"]["core_hours"]["negishi"]) < with_all


def page_data_for(root, tmp_path):
    out = str(tmp_path / "plain")
    assert run("report", "--out", out, "--root", root, "--now", DEMO_NOW)[0] == 0
    return page_data(os.path.join(out, "index.html"))


def test_no_job_names_reach_the_page(report):
    """The demo dumps carry JobName; none of them may be in the page's data or markup."""
    names = set()
    for cluster in ("hammer", "negishi"):
        lines = open(os.path.join(DEMO, cluster + ".db")).read().splitlines()
        at = lines[0].split("|").index("JobName")
        names.update(line.split("|")[at] for line in lines[1:] if line.count("|") >= at)
    names = {n for n in names if len(n) >= 3}
    assert len(names) > 5
    text = open(report, encoding="utf-8").read()
    ours = re.sub(r"<(script|style)>.*?</\1>", "", text, flags=re.S)    # code and CSS are not data (text-align)
    found = {n for n in names if re.search(r"\b{}\b".format(re.escape(n)), ours)}
    assert not found


def test_the_page_is_self_contained_and_forbids_every_fetch(report):
    text = open(report, encoding="utf-8").read()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text).group(1)
    assert "default-src 'none'" in csp and "connect-src" not in csp and "http" not in csp
    # nothing is loaded from anywhere: no src or href leaving the page (the crown's svg namespace is a name)
    assert not re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', text)
    assert "uPlot" in text and '<table data-board="ALL/alltime/user">' in text


def test_the_default_board_is_in_the_html_itself(report, demo_root):
    text = open(report, encoding="utf-8").read()
    rows = re.findall(r'<tr data-rank="(\d+)" data-name="([^"]+)">', text)
    expected = tui_json(demo_root, "ALL", "alltime")["rows"]
    assert rows == [(str(r["rank"]), r["user"]) for r in expected]


def test_header_ages_are_stale_by_the_boards_rule(demo_root, tmp_path):
    """A cluster whose last poll is older than 3 poll intervals (30 min by default) is stale, in red."""
    import calendar
    import time
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    now = calendar.timegm(time.strptime(DEMO_NOW, "%Y-%m-%dT%H:%M:%S"))
    for cluster, age in (("hammer", 1799), ("negishi", 1801)):
        with open(os.path.join(root, "clusters", cluster, "state", "poll_cursor.json"), "w") as handle:
            json.dump({"last_success": now - age}, handle)
    data = page_data_for(root, tmp_path)
    assert [(c["name"], round(c["age"]), c["stale"]) for c in data["clusters"]] == [
        ("hammer", 1799, False), ("negishi", 1801, True)]
    text = open(str(tmp_path / "plain" / "index.html")).read()
    assert '<li class="fresh"><b>hammer</b> 29 min old</li>' in text
    assert '<li class="stale"><b>negishi</b> 30 min old, stale</li>' in text


def test_written_atomically_world_readable_whatever_the_umask(demo_root, tmp_path, monkeypatch):
    out = str(tmp_path / "web")
    old = os.umask(0o077)
    try:
        assert run("report", "--out", out, "--root", demo_root, "--now", DEMO_NOW)[0] == 0
        first = os.stat(os.path.join(out, "index.html"))
        assert first.st_mode & 0o777 == 0o644
        assert run("report", "--out", out, "--root", demo_root, "--now", DEMO_NOW)[0] == 0
        second = os.stat(os.path.join(out, "index.html"))
    finally:
        os.umask(old)
    assert second.st_ino != first.st_ino        # a new file renamed over the old one, never rewritten in place
    assert os.listdir(out) == ["index.html"]     # no temp left behind
    # a rename that fails leaves the old page whole and no temp file
    before = open(os.path.join(out, "index.html"), "rb").read()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(command.os, "replace", refuse)
    code, _, err = run("report", "--out", out, "--root", demo_root, "--now", DEMO_NOW)
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert open(os.path.join(out, "index.html"), "rb").read() == before and os.listdir(out) == ["index.html"]


def test_a_bad_root_is_one_line_and_exit_1(tmp_path):
    code, out, err = run("report", "--out", str(tmp_path / "web"), "--root", str(tmp_path / "nope"))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("slurm-sb report: error: the root ") and "does not exist" in err
    assert not os.path.exists(str(tmp_path / "web"))


def test_an_unwritable_out_dir_is_one_line_and_exit_1(demo_root, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, out, err = run("report", "--out", str(blocker / "web"), "--root", demo_root)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "slurm-sb report: error: cannot write {}".format(blocker / "web" / "index.html") in err
    assert "choose an --out directory" in err


def test_out_is_required_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["report", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and "required: --out" in err


def test_nothing_in_the_data_can_close_the_script_element():
    text = page.script_json({"x": "</script><b>"})
    assert "</" not in text and json.loads(text) == {"x": "</script><b>"}


def test_rows_keep_unknown_keys_and_nulls_for_collector_v2():
    """The page is generic over a row's keys: an efficiency key it does not know is a column, null is '-'."""
    assert report_data.in_board_order(["user", "rank", "cpu_efficiency", "clock_hours", "total_level"]) == \
        ["rank", "user", "total_level", "clock_hours", "cpu_efficiency"]
    assert page.cell("cpu_efficiency", None, None, {}, "user") == "<td>-</td>"
    assert page.cell("cpu_efficiency", 0.5, None, {}, "user") == '<td data-v="0.5">0.5</td>'
    board = {"columns": ["cpu_efficiency"], "rows": [[0.12], [None], [0.95], [1.0]]}    # fractions
    assert report_data.histogram(board) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 2]


def test_the_vendored_uplot_is_the_pinned_one():
    pins = open(os.path.join(REPO, "vendor", "vendor.txt")).read()
    line = next(l for l in pins.splitlines() if l.startswith("uplot=="))
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        digest = hashlib.sha256(open(os.path.join(REPO, "vendor", "uplot", name), "rb").read()).hexdigest()
        assert "{} sha256={}".format(name, digest) in line
    assert "MIT" in open(os.path.join(REPO, "vendor", "uplot", "LICENSE")).read()


def test_months_read_in_parallel_processes_are_the_same_history(demo_root):
    from sb.scores.history import history
    import calendar
    import time
    now = calendar.timegm(time.strptime(DEMO_NOW, "%Y-%m-%dT%H:%M:%S"))
    args = (demo_root, ["hammer", "negishi"], now, {"clock_hours", "gpu_clock_hours"}, {"u0037", "u0023", "nobody"})
    serial, parallel = history(*args, exclude={"u0023"}), history(*args, exclude={"u0023"}, workers=2)
    assert serial == parallel
    assert sorted(serial.players) == ["nobody", "u0037"] and not any(serial.players["nobody"])
    assert sum(serial.players["u0037"]) > 0 and serial.totals["hammer"]["clock_hours"][-2] > 0

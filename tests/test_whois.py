"""`whois` and `tui --csv` against a second, plain computation from the daily rollup files (JSON read by
hand here, sums and ranks with plain loops)."""
import calendar
import csv
import io
import json
import os
import time

import pytest

from conftest import DEMO_NOW, load_json
from sb import cli

HOUR, MB = 3600, 1 << 20
WINDOW_DAYS = {"alltime": None, "30d": 30, "365d": 365}
RATIOS = ("cpu_efficiency", "mem_efficiency", "time_efficiency", "gpu_efficiency", "cpu_wasted_hours",
          "mem_wasted_gb_hours", "avg_wait_hours")


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def daily_sums(root, cluster, days):
    """{user: {counter: sum}} over the last `days` UTC days before DEMO_NOW (None: every day)."""
    today = calendar.timegm(time.strptime(DEMO_NOW, "%Y-%m-%dT%H:%M:%S")) // 86400
    folder = os.path.join(root, "clusters", cluster, "agg", "rollups", "daily")
    sums = {}
    for name in os.listdir(folder):
        doc = load_json(os.path.join(folder, name))
        first = calendar.timegm(time.strptime(doc["month"] + "-01", "%Y-%m-%d")) // 86400
        for label, rows in doc["days"].items():
            day = first + int(label) - 1
            if days is not None and not today - days + 1 <= day <= today:
                continue
            for row in rows:
                user = doc["users"][row[0]]
                total = sums.setdefault(user, dict.fromkeys(doc["columns"], 0))
                for column, value in zip(doc["columns"], row[3:]):
                    total[column] += value
    return sums


def figure(c, metric):
    """The metric from plain counter sums, written out one by one from the issue's definitions."""
    plain = {"jobs": c["jobs"], "clock_hours": c["cpu_s"] / HOUR, "gpu_clock_hours": c["gpu_s"] / HOUR,
             "sum_req_mem_mb": c["req_mem_b"] / MB, "cpu_used_hours": c["cpu_used_ms"] / HOUR / 1000,
             "wait_hours": c["wait_s"] / HOUR}
    if metric in plain:
        return plain[metric]
    core_ms = c["cpu_s"] * 1000
    return {"cpu_efficiency": c["cpu_used_ms"] / core_ms if core_ms else None,
            "mem_efficiency": c["used_mem_b_s"] / c["req_mem_b_s"] if c["req_mem_b_s"] else None,
            "cpu_wasted_hours": max(0, core_ms - c["cpu_used_ms"]) / HOUR / 1000,
            "avg_wait_hours": c["wait_s"] / c["jobs"] / HOUR if c["jobs"] else None}[metric]


def expected_rank(players, user, metric, min_jobs=3, min_core_hours=10):
    ranked = [(u, figure(c, metric)) for u, c in players.items() if c["jobs"] >= min_jobs and
              figure(c, metric) is not None and (metric not in RATIOS or c["cpu_s"] >= min_core_hours * HOUR)]
    ranked.sort(key=lambda pair: (-pair[1], pair[0]))
    names = [u for u, _ in ranked]
    return (names.index(user) + 1 if user in names else None), len(names)


@pytest.mark.parametrize("user", ["u0010", "u0001", "u0045"])
def test_whois_ranks_equal_a_plain_computation_from_the_daily_rollups(demo_root, user):
    code, out, err = run("whois", user, "--root", demo_root, "--json", "--now", DEMO_NOW)
    assert code == 0, err
    doc = json.loads(out)
    entries = {(e["cluster"], e["window"], e["metric"]): e for e in doc["entries"]}
    metrics = {e["metric"] for e in doc["entries"]}
    assert len(doc["entries"]) == 3 * 3 * len(metrics)          # hammer, negishi, ALL x 3 windows x metrics
    _, json_out, _ = run("tui", "--root", demo_root, "--json", "--now", DEMO_NOW)
    assert metrics == set(json.loads(json_out)["rows"][0]) - {"rank", "user"}
    for cluster in ("hammer", "negishi", "ALL"):
        for window, days in WINDOW_DAYS.items():
            players = {}
            for one in (("hammer", "negishi") if cluster == "ALL" else (cluster,)):
                for u, c in daily_sums(demo_root, one, days).items():
                    total = players.setdefault(u, dict.fromkeys(c, 0))
                    for k, v in c.items():
                        total[k] += v
            for metric in ("jobs", "clock_hours", "gpu_clock_hours", "sum_req_mem_mb", "cpu_used_hours",
                           "wait_hours", "cpu_efficiency", "mem_efficiency", "cpu_wasted_hours", "avg_wait_hours"):
                entry = entries[cluster, window, metric]
                rank, of = expected_rank(players, user, metric)
                assert (entry["rank"], entry["of"]) == (rank, of), (cluster, window, metric)
                zeros = dict.fromkeys(next(iter(players.values())), 0)
                want = figure(players.get(user, zeros), metric)       # no job: 0, and ratios unknown
                assert entry["value"] == pytest.approx(want, rel=1e-9, abs=1e-12) if want is not None else \
                    entry["value"] is None, (cluster, window, metric)


def test_whois_of_an_unknown_or_opted_out_user_is_one_line_and_exit_1(demo_root, tmp_path):
    code, out, err = run("whois", "nobody", "--root", demo_root)
    assert code == 1 and out == "" and err.count("\n") == 1 and "nobody" in err


def test_whois_text_says_rank_n_of_m_for_every_cluster(demo_root):
    code, out, _ = run("whois", "u0010", "--root", demo_root, "--now", DEMO_NOW)
    assert code == 0
    for cluster in ("hammer", "negishi", "ALL"):
        assert "\n" + cluster + " " in out
    assert " of 4" in out and "lvl" in out and "XP to" in out


@pytest.mark.parametrize("by", ["user", "account", "partition"])
def test_csv_is_the_json_rows_in_order(demo_root, by):
    _, json_out, _ = run("tui", "--root", demo_root, "--json", "--by", by, "--window", "365d", "--now", DEMO_NOW)
    rows = json.loads(json_out)["rows"]
    _, csv_out, _ = run("tui", "--root", demo_root, "--csv", "--by", by, "--window", "365d", "--now", DEMO_NOW)
    assert csv_out.endswith("\r\n")                              # RFC 4180 line ends
    table = list(csv.reader(io.StringIO(csv_out)))
    assert table[0] == list(rows[0]) and len(table) == len(rows) + 1
    for line, row in zip(table[1:], rows):
        assert line == ["" if v is None else str(v) for v in row.values()]


def test_ranking_in_columns_equals_ranking_player_by_player():
    """whois ranks on columns (store.counters.derived_columns, C loops); the same figures row by row with
    store.counters.derived and skills.level, and ranks by a plain sort, must agree on random rows."""
    import random
    from sb.scores import whois
    from sb.scores.skills import Theme
    from sb.store.counters import COLUMNS, DERIVED, derived, derived_columns
    rng = random.Random(7)
    rows = [[rng.choice([0, 0, 1, rng.randint(0, 10 ** rng.randint(1, 15))]) for _ in COLUMNS] for _ in range(400)]
    columns = {name: [row[n] for row in rows] for n, name in enumerate(COLUMNS)}
    fast = derived_columns(columns)
    for n, row in enumerate(rows):
        for figure, value in derived(row).items():
            assert fast[figure][n] == value and type(fast[figure][n]) is type(value), (n, figure)
    theme = Theme()

    class Table:
        def column(self, index):
            return {"u{:03d}".format(n): row[index] for n, row in enumerate(rows)}
    names = sorted("u{:03d}".format(n) for n in range(len(rows)))
    values = whois._Columns(Table(), names).every_metric(theme)
    assert values["total_level"] == [theme.total_level(rows[int(u[1:])]) for u in names]
    assert values["total_xp"] == [theme.total_xp(rows[int(u[1:])]) for u in names]
    allowed = [rng.random() < 0.8 for _ in names]
    for metric in ("total_level", "jobs", "cpu_efficiency", "avg_wait_hours") + DERIVED[:2]:
        column = values[metric]
        for at in (0, 17, 399):
            ok = [n for n in range(len(names)) if column[n] is not None and allowed[n]]
            order = sorted(ok, key=lambda n: (-column[n], n))
            want = order.index(at) + 1 if at in ok else None
            assert whois._rank(column, at, allowed) == (want, len(ok)), (metric, at)

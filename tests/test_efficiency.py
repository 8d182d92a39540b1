"""Collector v2's figures (issue 11) against the independent oracle: monthly rollups per user, account and
partition, and `tui --json --by ...` rows for every cluster and window, on generated corpora served by the
fake sacct and on the demo data; then bad input through the CLI."""
import calendar
import io
import json
import os
import time

import pytest

import oracle
from conftest import DEMO, DEMO_NOW, V2_DUMP_FIELDS
from sb import cli
from test_collector import generated_db

ALL = oracle.ALL_METRICS
BYS = ("user", "account", "partition")
ROLLUP_KEY = {"user": "username", "account": "account", "partition": "partition"}
GEN_NOW = "2024-04-05T00:00:00"


# ---- helpers ----------------------------------------------------------------------------------------

def tui_json(root, now, *args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["tui", "--root", root, "--json", "--now", now] + list(args), out=out, err=err)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def window_days(window, now):
    """(first, last) UTC days of a window ending on now's day (None, None: all time)."""
    if window == "alltime":
        return None, None
    epoch = calendar.timegm(time.strptime(now, "%Y-%m-%dT%H:%M:%S"))
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))   # noqa: E731
    return day(epoch - (int(window[:-1]) - 1) * 86400), day(epoch)


def assert_metrics(got, want, where):
    """Every metric of `want` in `got`, to 1e-9; None (unknown) exactly where the oracle has None."""
    for name in ALL:
        if want[name] is None:
            assert got[name] is None, (where, name, got[name])
        else:
            assert got[name] is not None, (where, name)
            assert got[name] == pytest.approx(want[name], rel=1e-9, abs=1e-9), (where, name)


def assert_rollups(got, want):
    """{month: {name: metrics}} from Sandbox.monthly against the oracle's {(name, month): metrics}."""
    nested = {}
    for (name, month), metrics in want.items():
        nested.setdefault(month, {})[name] = metrics
    assert sorted(got) == sorted(nested)
    for month in nested:
        assert sorted(got[month]) == sorted(nested[month]), month
        for name, metrics in nested[month].items():
            assert_metrics(got[month][name], metrics, (month, name))


def expected_rows(per_cluster, by, min_jobs):
    """The rows `tui --json` must print: [(name, metrics, users)] ranked by clock hours (ties A to Z).

    per_cluster: [(rows of one cluster's dump)] summed by name (ALL) when several; group rows carry their
    distinct users (the union over clusters), user rows only users with >= min_jobs jobs."""
    totals = oracle.sum_totals([t for t, _ in per_cluster])
    members = {}
    for _, groups in per_cluster:
        for name, users in groups.items():
            members.setdefault(name, set()).update(users)
    floor = min_jobs if by == "user" else 1
    names = [n for n, m in totals.items() if m["jobs"] >= floor]
    # clock hours are whole core-seconds: rank on those, so float rounding cannot reorder a tie
    names.sort(key=lambda n: (-round(totals[n]["clock_hours"] * 3600), n))
    return [(n, totals[n], len(members.get(n, ()))) for n in names]


def check_board(root, now, cluster_rows, cluster, window, by):
    """`tui --json --cluster C --window W --by B` against the oracle over those clusters' dumps."""
    doc = tui_json(root, now, "--cluster", cluster, "--window", window, "--by", by)
    first, last = window_days(window, now)
    names = sorted(cluster_rows) if cluster == "ALL" else [cluster]
    per_cluster = [(oracle.group_totals(cluster_rows[c], by, first, last),
                    oracle.group_users(cluster_rows[c], by, first, last) if by != "user" else {})
                   for c in names]
    want = expected_rows(per_cluster, by, doc["min_jobs"])
    if by != "user":
        assert doc["min_jobs"] == 1
    where = (cluster, window, by)
    assert [row[by] for row in doc["rows"]] == [n for n, _, _ in want], where
    keys = {"rank", by, "total_level", "total_xp"} | set(ALL) | ({"users"} if by != "user" else set())
    for n, (row, (name, metrics, users)) in enumerate(zip(doc["rows"], want), 1):
        assert set(row) == keys, (where, sorted(set(row) ^ keys))
        assert row["rank"] == n
        if by != "user":
            assert row["users"] == users, (where, name)
        assert_metrics(row, metrics, where + (name,))
    return doc


# ---- generated corpora through the fake sacct ----------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two generated clusters (sharing users) backfilled through the fake sacct, and the plain sacct dumps
    the oracle reads (taken with the v2 fields)."""
    import pytest as _pytest
    from conftest import Sandbox
    tmp = tmp_path_factory.mktemp("gen")
    monkeypatch = _pytest.MonkeyPatch()
    box = Sandbox(tmp, monkeypatch)
    dumps = {}
    for cluster, seed in (("hammer", 7), ("negishi", 23)):
        db = str(tmp / (cluster + ".src.db"))
        generated_db(db, seed)
        box.use_db(db, cluster)
        code, out, err = box.run("backfill", cluster=cluster, now=GEN_NOW,
                                 options=("rate_limit_per_min=0", "backfill_start=2024-01"))
        assert code == 0, err
        dumps[cluster] = oracle.load_rows(box.sacct_dump("2024-01-01", "2024-04-05", cluster, V2_DUMP_FIELDS))
    yield box, dumps
    monkeypatch.undo()


def test_the_generated_corpus_exercises_every_new_figure(generated):
    """Guards the tests below against a corpus that would make them vacuous."""
    _, dumps = generated
    totals = oracle.group_totals(dumps["hammer"], "user")
    some = lambda name: sum(1 for m in totals.values() if m[name])   # noqa: E731
    for name in ("cpu_used_hours", "timelimit_hours", "wait_hours", "mem_sampled_jobs", "gpu_sampled_jobs"):
        assert some(name) > 10, name
    jobs = oracle.jobs(dumps["hammer"])
    assert any(j["timelimit_h"] == 0 for j in jobs)                  # UNLIMITED / Partition_Limit
    assert any(j["gpu_job"] and not j["gpu_sampled"] for j in jobs)  # GPU jobs with no sample: unknown
    assert any(m["gpu_efficiency"] is None for m in totals.values())
    assert len({j["account"] for j in jobs}) > 5 and len({j["partition"] for j in jobs}) > 3


@pytest.mark.parametrize("by", BYS)
def test_generated_monthly_rollups_equal_the_oracle(generated, by):
    box, dumps = generated
    for cluster, rows in dumps.items():
        got = box.monthly(cluster, metrics=ALL, by=ROLLUP_KEY[by])
        assert_rollups(got, oracle.group_totals(rows, by, monthly=True))


@pytest.mark.parametrize("cluster", ["hammer", "negishi", "ALL"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
@pytest.mark.parametrize("by", BYS)
def test_generated_tui_json_rows_equal_the_oracle(generated, cluster, window, by):
    box, dumps = generated
    doc = check_board(box.root, GEN_NOW, dumps, cluster, window, by)
    assert doc["rows"], "an empty board proves nothing"


# ---- the demo data -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_rows():
    return {c: oracle.load_rows(os.path.join(DEMO, c + ".db")) for c in ("hammer", "negishi")}


@pytest.mark.parametrize("by", BYS)
def test_demo_monthly_rollups_equal_the_oracle(demo_root, demo_rows, by):
    from conftest import Sandbox
    box = Sandbox.__new__(Sandbox)          # only its readers: the demo root is shared and read-only
    box.root = demo_root
    for cluster, rows in demo_rows.items():
        assert_rollups(box.monthly(cluster, metrics=ALL, by=ROLLUP_KEY[by]),
                       oracle.group_totals(rows, by, monthly=True))


@pytest.mark.parametrize("cluster", ["hammer", "negishi", "ALL"])
@pytest.mark.parametrize("window", ["alltime", "30d", "365d"])
@pytest.mark.parametrize("by", BYS)
def test_demo_tui_json_rows_equal_the_oracle(demo_root, demo_rows, cluster, window, by):
    doc = check_board(demo_root, DEMO_NOW, demo_rows, cluster, window, by)
    assert doc["rows"]


def test_demo_all_counts_a_shared_groups_users_once(demo_root, demo_rows):
    """ALL's `users` of a group is the union: users on both clusters are not counted twice."""
    doc = tui_json(demo_root, DEMO_NOW, "--cluster", "ALL", "--by", "account")
    per = [oracle.group_users(demo_rows[c], "account") for c in demo_rows]
    shared = [row for row in doc["rows"] if all(row["account"] in p for p in per)]
    assert shared
    assert any(row["users"] < sum(len(p[row["account"]]) for p in per) for row in shared)


# ---- bad input through the CLI ----------------------------------------------------------------------

import fake_sacct   # noqa: E402  (after conftest put tests/ on the path)

T0 = 1712750400              # 2024-04-10T12:00:00Z
NOW = "2024-04-10T12:00:00"
OPTIONS = ("rate_limit_per_min=0", "backfill_start=2024-04")


def line(**values):
    """One .db line in fake_sacct.DB_FIELDS order; unnamed fields empty."""
    return "|".join(values.get(name, "") for name in fake_sacct.DB_FIELDS)


def job(jid, user="alice", account="lab", partition="cpu", elapsed=3600, cpus=2, total_cpu="01:00:00",
        limit="120", submit=None, start=None, eligible="", steps=()):
    """A finished job line (ends an hour before NOW) followed by its step lines."""
    end = T0 - 3600
    start = end - elapsed if start is None else start
    submit = start - 600 if submit is None else submit
    lines = [line(JobID=jid, JobIDRaw=jid, User=user, Account=account, Partition=partition, State="COMPLETED",
                  ElapsedRaw=str(elapsed), AllocCPUS=str(cpus), NNodes="1", ReqMem="1024M",
                  ReqTRES="cpu=%d,mem=1024M,node=1" % cpus, AllocTRES="cpu=%d,mem=1024M,node=1" % cpus,
                  TotalCPU=total_cpu, Submit=str(submit), Start=str(start), End=str(end), TimelimitRaw=limit,
                  Eligible=eligible, JobName="x")]
    for n, (rss, tot) in enumerate(steps):
        lines.append(line(JobID="%s.%d" % (jid, n), JobIDRaw="%s.%d" % (jid, n), State="COMPLETED",
                          ElapsedRaw=str(elapsed), AllocCPUS=str(cpus), NNodes="1", MaxRSS=rss, AveRSS=rss,
                          TotalCPU="00:10:00", Submit=str(start), Start=str(start), End=str(end),
                          TRESUsageInTot=tot, JobName="x"))
    return lines


def collect(sandbox, lines):
    sandbox.write_db("\n".join(["|".join(fake_sacct.DB_FIELDS)] + lines) + "\n")
    code, out, err = sandbox.run("backfill", now=NOW, options=OPTIONS)
    assert code == 0, err
    problems = os.path.join(sandbox.cluster_dir(), "state", "problems.log")
    return open(problems).read() if os.path.exists(problems) else ""


def user_rows(sandbox):
    return {row["user"]: row for row in tui_json(sandbox.root, NOW, "--cluster", "hammer", "--by", "user")["rows"]}


def cpu_used_of(sandbox, jid):
    """cpu_used_hours of one job: each job of these tests has its own user."""
    return user_rows(sandbox)[jid]["cpu_used_hours"]


@pytest.mark.parametrize("text,hours", [
    ("1-02:03:04", (86400 + 2 * 3600 + 3 * 60 + 4) / 3600),   # D-HH:MM:SS
    ("05:06.789", 306.789 / 3600),                            # MM:SS.mmm (below an hour)
    ("01:00:00", 1.0),
    ("", 600 / 3600),                                         # empty: the steps' sum (one step, 10 min)
])
def test_total_cpu_formats_sacct_prints(sandbox, text, hours):
    lines = []
    for n in range(3):   # min_jobs 3: three jobs of one user, so the user has a row
        lines += job(str(700 + n), user="u%d" % n, total_cpu=text, steps=[("1000", "")])
    lines += job("800", user="u0", total_cpu=text, steps=[("1000", "")]) + \
        job("801", user="u0", total_cpu=text, steps=[("1000", "")])
    collect(sandbox, lines)
    assert cpu_used_of(sandbox, "u0") == pytest.approx(3 * hours, rel=1e-12)


@pytest.mark.parametrize("text", ["1:2:3:4", "abc", "-01:00:00", "1-", "01:xx:00", "٣:00:00",
                                  "1-02:03:04:05"])
def test_unknown_total_cpu_counts_the_job_without_cpu_time_and_says_so(sandbox, text):
    lines = job("710", user="u0", total_cpu=text) + job("711", user="u0") + job("712", user="u0")
    log = collect(sandbox, lines)
    row = user_rows(sandbox)["u0"]
    assert row["jobs"] == 3 and row["cpu_used_hours"] == pytest.approx(2.0, rel=1e-12)
    assert "TotalCPU" in log


@pytest.mark.parametrize("text,hours", [
    ("90", 1.5), ("UNLIMITED", 0), ("Partition_Limit", 0), ("INVALID", 0), ("", 0), ("0", 0),
    ("4294967295", 0), ("abc", 0), ("-5", 0), ("1.5", 0),
])
def test_time_limits(sandbox, text, hours):
    lines = job("720", user="u0", limit=text) + job("721", user="u0", limit="60") + job("722", user="u0",
                                                                                        limit="60")
    collect(sandbox, lines)
    row = user_rows(sandbox)["u0"]
    assert row["jobs"] == 3
    assert row["timelimit_hours"] == pytest.approx(2 + hours, rel=1e-12)
    assert row["limited_elapsed_hours"] == pytest.approx(2 + (1 if hours else 0), rel=1e-12)
    assert row["time_efficiency"] == pytest.approx((2 + (1 if hours else 0)) / (2 + hours), rel=1e-12)


def test_no_limit_at_all_gives_an_unknown_time_efficiency(sandbox):
    lines = []
    for n, text in enumerate(("UNLIMITED", "Partition_Limit", "")):
        lines += job(str(730 + n), user="u0", limit=text)
    collect(sandbox, lines)
    row = user_rows(sandbox)["u0"]
    assert row["timelimit_hours"] == 0 and row["limited_elapsed_hours"] == 0 and row["time_efficiency"] is None


@pytest.mark.parametrize("eligible,wait_s", [
    ("after", 0),          # Eligible after Start: no wait, never negative
    ("Unknown", 600),      # from Submit
    ("None", 600),
    ("0", 600),
    ("", 600),
    ("between", 240),      # held: from Eligible
])
def test_queue_wait(sandbox, eligible, wait_s):
    start = T0 - 7200
    value = {"after": str(start + 100), "between": str(start - 240)}.get(eligible, eligible)
    lines = job("740", user="u0", start=start, elapsed=3600, eligible=value)
    lines += job("741", user="u0", eligible="") + job("742", user="u0", eligible="")
    collect(sandbox, lines)
    row = user_rows(sandbox)["u0"]
    assert row["wait_hours"] == pytest.approx((wait_s + 1200) / 3600, rel=1e-12)
    assert row["avg_wait_hours"] == pytest.approx((wait_s + 1200) / 3600 / 3, rel=1e-12)


def test_memory_efficiency_uses_tres_total_then_maxrss_and_only_sampled_jobs(sandbox):
    mib = 1 << 20
    lines = job("750", user="u0", steps=[(str(100 * mib), "cpu=00:10:00,mem=%d" % (300 * mib))])  # Tot wins
    lines += job("751", user="u0", steps=[(str(200 * mib), "")])                                 # MaxRSS
    lines += job("752", user="u0", steps=[("", "cpu=00:10:00,mem=NONE")])                        # no sample
    lines += job("753", user="u0")                                                               # no steps
    collect(sandbox, lines)
    row = user_rows(sandbox)["u0"]
    assert row["mem_sampled_jobs"] == 2
    assert row["req_mem_mb_hours"] == pytest.approx(2 * 1024, rel=1e-12)
    assert row["used_mem_mb_hours"] == pytest.approx(300 + 200, rel=1e-12)
    assert row["mem_efficiency"] == pytest.approx(500 / 2048, rel=1e-12)
    assert row["mem_wasted_gb_hours"] == pytest.approx((2048 - 500) / 1024, rel=1e-12)


ODD_ACCOUNTS = ["Physics Dept", "../../etc", "a/b", "..", "grp-ÄÖ", "acct;rm -rf", "$HOME", "*", "-rf",
                "CON", ".hidden"]


def test_accounts_with_odd_characters_are_names_never_paths(sandbox):
    lines = []
    for n, account in enumerate(ODD_ACCOUNTS):
        lines += job(str(760 + n), user="u%d" % (n % 3), account=account, partition=account + "-p")
    lines += job("790", user="u0", account="bad\x1bname")              # a control character: damage
    lines += job("791", user="u0", account="x" * 300)                 # absurd length: damage
    log = collect(sandbox, lines)
    doc = tui_json(sandbox.root, NOW, "--cluster", "hammer", "--by", "account")
    assert sorted(row["account"] for row in doc["rows"]) == sorted(a.lower() for a in ODD_ACCOUNTS)
    parts = tui_json(sandbox.root, NOW, "--cluster", "hammer", "--by", "partition")["rows"]
    assert sorted(row["partition"] for row in parts) == sorted(a + "-p" for a in ODD_ACCOUNTS)
    assert log.count("Account") >= 2 and "not a name" in log
    # no file or folder anywhere was named after them, and nothing was written outside the root
    made = set()
    for folder, dirs, files in os.walk(str(sandbox.tmp)):
        made.update(dirs + files)
    for account in ODD_ACCOUNTS:
        for name in (account, account.lower(), account + "-p"):
            assert name not in made or name in ("..",), name
    assert not os.path.exists(os.path.join(str(sandbox.tmp), "etc"))


def test_an_account_is_lower_cased_and_empty_names_are_none(sandbox):
    lines = job("770", user="u0", account="PhysicsLab", partition="GPU-A") + \
        job("771", user="u0", account="", partition="") + job("772", user="u0", account="physicslab")
    collect(sandbox, lines)
    rows = {r["account"]: r for r in tui_json(sandbox.root, NOW, "--cluster", "hammer", "--by", "account")["rows"]}
    assert sorted(rows) == ["(none)", "physicslab"] and rows["physicslab"]["jobs"] == 2
    parts = {r["partition"] for r in tui_json(sandbox.root, NOW, "--cluster", "hammer", "--by", "partition")["rows"]}
    assert parts == {"GPU-A", "(none)", "cpu"}


@pytest.mark.parametrize("text", ["1-02:03", "1-02"])
def test_a_day_count_without_hours_minutes_seconds_is_an_unknown_total_cpu(sandbox, text):
    lines = job("715", user="u0", total_cpu=text) + job("716", user="u0") + job("717", user="u0")
    log = collect(sandbox, lines)
    assert user_rows(sandbox)["u0"]["cpu_used_hours"] == pytest.approx(2.0, rel=1e-12)
    assert "TotalCPU" in log

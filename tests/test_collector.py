"""The collector end to end against a fake sacct: exact totals, idempotency, failures, politeness, opt-out."""
import gzip
import json
import os
import re

import pytest

from conftest import GOLDEN, assert_same_totals, oracle_monthly
import oracle
from sb import config
from sb.collect import backfill_cmd, boards as boards_mod
from sb.collect.engine import Engine
from sb.store.data import ClusterData
from sb.store.layout import ClusterPaths
from sb.store.lock import ClusterLock

GOLDEN_DB = os.path.join(GOLDEN, "hammer.db")
EXPECTED = json.load(open(os.path.join(GOLDEN, "hammer.expected.json")))
NOW = "2024-04-10T12:00:00"
START = "backfill_start=2024-01"


def backfill(sandbox, *extra, now=NOW, options=("rate_limit_per_min=0", START)):
    return sandbox.run("backfill", *extra, now=now, options=options)


def test_backfill_reproduces_the_hand_computed_golden_totals(sandbox):
    sandbox.use_db(GOLDEN_DB)
    code, out, err = backfill(sandbox)
    assert code == 0, err
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert_same_totals(sandbox.alltime(), EXPECTED["alltime"])
    assert "1 malformed line(s)" in err and "problems.log" in err          # bad/user reported, not dropped
    assert "1 unreadable line(s) skipped" in out                            # …and in the run's summary
    assert "User 'bad/user'" in open(os.path.join(sandbox.cluster_dir(), "state", "problems.log")).read()
    assert not os.path.exists(os.path.join(sandbox.cluster_dir(), "agg", "users", "bad"))
    cursor = sandbox.cursor()
    assert cursor["coldstart_done"] and cursor["last_complete_month"] == "2024-03"


def test_the_sacct_calls_are_polite_and_exact(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    calls = sandbox.sacct_calls()
    first = calls[0]["argv"]
    assert calls[0]["env_tz"] == "UTC" and calls[0]["env_fmt"] == "%s"
    for flag in ("-a", "-D", "-P", "-n", "--noconvert", "--delimiter=#|#", "-M", "hammer"):
        assert flag in first
    assert first[first.index("-S") + 1] == "2024-01-01T00:00:00"
    assert first[first.index("-E") + 1] == "2024-01-31T23:59:59"
    assert first[first.index("-s") + 1] == "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ"
    fields = first[first.index("-o") + 1].split(",")
    assert fields == ["JobIDRaw", "MaxRSS", "AveRSS", "TotalCPU", "TRESUsageInTot", "User", "State", "ElapsedRaw",
                      "AllocCPUS", "NNodes", "ReqMem", "ReqTRES", "AllocTRES", "Submit", "Start", "End", "Account",
                      "Partition", "TimelimitRaw", "Eligible"]   # no free text; one TRES usage string
    months = [c["argv"][c["argv"].index("-S") + 1][:7] for c in calls]
    assert months[:3] == ["2024-01", "2024-02", "2024-03"] and len(calls) == 4   # 3 months + catch-up


def test_poll_ticks_reach_exactly_what_backfill_reaches(sandbox, tmp_path):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    reference = sandbox.files()
    sandbox.root = str(tmp_path / "root2")
    for _ in range(4):
        code, _, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
        assert code == 0, err
    assert sandbox.cursor()["coldstart_done"]
    assert sandbox.files() == reference


def test_rerunning_changes_no_file_under_agg_except_asof(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    before = sandbox.files(mask_asof=False)
    sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
    backfill(sandbox, "--since", "2024-01")
    after = sandbox.files(mask_asof=False)
    assert sorted(after) == sorted(before)
    changed = [path for path in before if before[path] != after[path]]
    assert all(path.startswith("leaderboards/") for path in changed)    # only their asof moved
    assert sandbox.files() == {path: mask for path, mask in sandbox.files().items() if path in before}


def test_rebuild_from_rollups_gives_the_same_bytes(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    before = sandbox.files()
    for sub in ("users", "leaderboards"):
        folder = os.path.join(sandbox.cluster_dir(), "agg", sub)
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
    code, out, err = sandbox.run("rebuild", now=NOW)
    assert code == 0, err
    assert sandbox.files() == before


@pytest.mark.parametrize("window, first, last", [("30d", "2024-02-11", "2024-03-11"),
                                                 ("365d", "2023-03-13", "2024-03-11")])
def test_rolling_windows_are_exact_to_the_utc_day(sandbox, window, first, last):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox, now="2024-03-11T08:00:00", options=("rate_limit_per_min=0", START, "min_jobs=1"))
    expected = oracle.window_totals(oracle.load_rows(GOLDEN_DB), first, last)
    board = sandbox.board(window)
    for metric, rows in board["boards"].items():
        ranks = oracle.ranks(expected, metric, min_jobs=1)
        assert [(r["rank"], r["user"]) for r in rows] == [(n, u) for n, u, _ in ranks], metric
        assert [r["value"] for r in rows] == pytest.approx([v for _, _, v in ranks])


@pytest.mark.parametrize("min_jobs", [1, 3])
def test_alltime_board_ranks_every_metric_like_the_oracle(sandbox, min_jobs):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox, options=("rate_limit_per_min=0", START, "min_jobs={}".format(min_jobs)))
    board = sandbox.board("alltime")
    assert (board["window"], board["cluster"], board["min_jobs"]) == ("alltime", "hammer", min_jobs)
    totals = oracle.alltime_totals(oracle.load_rows(GOLDEN_DB))
    assert sorted(board["boards"]) == sorted(oracle.METRICS)
    for metric, rows in board["boards"].items():
        expected = oracle.ranks(totals, metric, min_jobs=min_jobs)
        assert [(r["rank"], r["user"]) for r in rows] == [(n, u) for n, u, _ in expected]



def test_board_file_table_has_every_user_and_the_boards_only_the_top(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox, options=("rate_limit_per_min=0", START, "min_jobs=5", "board_top=1"))
    board = sandbox.board("alltime")
    totals = oracle.alltime_totals(oracle.load_rows(GOLDEN_DB))
    for metric, rows in board["boards"].items():
        assert [r["user"] for r in rows] == [u for _, u, _ in oracle.ranks(totals, metric, min_jobs=5)][:1]
    columns = board["table"]["columns"]
    scale = {"elapsed_hours": 3600, "clock_hours": 3600, "gpu_elapsed_hours": 3600, "gpu_clock_hours": 3600,
             "sum_req_mem_mb": 1 << 20, "sum_avg_mem_mb": 1 << 20, "sum_max_mem_mb": 1 << 20}
    names = {"jobs": "jobs", "gpu_jobs": "gpu_jobs", "failed_jobs": "failed_jobs", "elapsed_s": "elapsed_hours",
             "cpu_s": "clock_hours", "gpu_elapsed_s": "gpu_elapsed_hours", "gpu_s": "gpu_clock_hours",
             "req_mem_b": "sum_req_mem_mb", "avg_mem_b": "sum_avg_mem_mb", "max_mem_b": "sum_max_mem_mb"}
    table = {row[0]: dict(zip(columns[1:], row[1:])) for row in zip(*board["table"]["data"])}
    assert sorted(table) == sorted(totals)          # everyone with a job, below min_jobs too
    for user, counters in table.items():
        for column, value in counters.items():
            assert isinstance(value, int)
            if column in names:     # the usage counters; the efficiency ones are checked in test_efficiency
                metric = names[column]
                assert value / scale.get(metric, 1) == pytest.approx(totals[user][metric]), (user, column)


HEADER = "JobID|JobIDRaw|User|Account|Partition|State|ElapsedRaw|AllocCPUS|NNodes|ReqMem|ReqTRES|AllocTRES|" \
         "MaxRSS|AveRSS|TotalCPU|Submit|Start|End|TRESUsageInMax|TRESUsageInAve|JobName"
T0 = 1712750400  # 2024-04-10T12:00:00Z


def job_line(jid, user, state, start, end, elapsed, cpus=1, submit=None):
    submit = T0 - 7200 if submit is None else submit
    return "|".join([jid, jid, user, "a", "p", state, str(elapsed), str(cpus), "1", "1G", "", "cpu=%d" % cpus,
                     "", "", "", str(submit), str(start), str(end), "", "", "x"])


def iso(epoch):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


def test_a_running_job_counts_once_after_it_ends(sandbox):
    running = job_line("500", "erin", "RUNNING", T0 - 3600, "Unknown", 0, cpus=2)
    sandbox.write_db("\n".join([HEADER, running]) + "\n")
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    assert sandbox.run("poll", now=iso(T0), options=opts)[0] == 0
    assert sandbox.monthly() == {}
    sandbox.write_db("\n".join([HEADER, job_line("500", "erin", "COMPLETED", T0 - 3600, T0 + 600, 4200, cpus=2)]))
    for later in (T0 + 1200, T0 + 1800, T0 + 7200):
        assert sandbox.run("poll", now=iso(later), options=opts)[0] == 0
    assert sandbox.monthly()["2024-04"]["erin"]["jobs"] == 1
    assert sandbox.monthly()["2024-04"]["erin"]["clock_hours"] == pytest.approx(2 * 4200 / 3600)


def test_a_record_reaching_slurmdbd_late_is_still_counted_once(sandbox):
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    sandbox.write_db(HEADER + "\n")
    assert sandbox.run("poll", now=iso(T0), options=opts)[0] == 0
    # a job that ended an hour before that poll, whose record only now reaches the database
    sandbox.write_db("\n".join([HEADER, job_line("501", "erin", "COMPLETED", T0 - 7200, T0 - 3600, 3600)]))
    for later in (T0 + 3 * 3600, T0 + 6 * 3600):
        assert sandbox.run("poll", now=iso(later), options=opts)[0] == 0
    assert sandbox.monthly()["2024-04"]["erin"]["jobs"] == 1


def test_sacct_down_commits_nothing_backs_off_and_catches_up_later(sandbox, monkeypatch):
    sandbox.use_db(GOLDEN_DB)
    opts = ("rate_limit_per_min=2", START, "backfill_sleep_sec=0")
    monkeypatch.setenv("FAKE_SACCT_DOWN", "1")
    code, out, err = sandbox.run("poll", now=NOW, options=opts)
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 1 and len(lines) == 1
    assert "Connection refused" in lines[0] and "nothing was committed" in lines[0]
    assert sandbox.monthly() == {} and sandbox.alltime() == {}
    calls = len(sandbox.sacct_calls())
    code, out, err = sandbox.run("poll", now="2024-04-10T12:00:30", options=opts)
    assert code == 0 and "backing off" in err and len(sandbox.sacct_calls()) == calls   # sacct left alone
    monkeypatch.delenv("FAKE_SACCT_DOWN")
    backfill(sandbox, now="2024-04-10T12:05:00", options=("rate_limit_per_min=0", START))
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])


@pytest.mark.parametrize("fault, value, message", [("FAKE_SACCT_FAIL_AFTER_LINES", "6", "sacct exited 1"),
                                                   ("FAKE_SACCT_SLEEP", "5", "timed out after 1 s")])
def test_a_call_that_dies_or_hangs_commits_nothing(sandbox, monkeypatch, fault, value, message):
    sandbox.use_db(GOLDEN_DB)
    monkeypatch.setenv(fault, value)
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START, "sacct_timeout_sec=1"))
    assert code == 1 and message in err
    assert sandbox.monthly() == {} and sandbox.alltime() == {}
    assert not os.path.exists(os.path.join(sandbox.cluster_dir(), "state", "poll_cursor.json"))


def test_too_wide_windows_are_split_and_remembered(sandbox, monkeypatch):
    sandbox.use_db(GOLDEN_DB)
    monkeypatch.setenv("FAKE_SACCT_MAX_RANGE_SEC", str(8 * 86400))
    code, out, err = backfill(sandbox)
    assert code == 0, err
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert "too wide" in out
    assert sandbox.cursor()["too_wide_sec"] <= 31 * 86400
    widths = [c["argv"] for c in sandbox.sacct_calls()]
    assert len(widths) > 8


def test_a_second_poller_leaves_at_once_naming_the_holder(sandbox):
    sandbox.use_db(GOLDEN_DB)
    paths = ClusterPaths(sandbox.root, "hammer")
    paths.make_dirs()
    with ClusterLock(paths):
        code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0 and "another collector holds" in out and "pid={}".format(os.getpid()) in out
    assert sandbox.sacct_calls() == []


def test_rate_limit_holds_across_separate_runs(sandbox):
    sandbox.use_db(GOLDEN_DB)
    opts = ("rate_limit_per_min=2", START)
    sandbox.run("poll", now=NOW, options=opts)           # cold-start month + catch-up: 2 calls
    code, out, err = sandbox.run("poll", now="2024-04-10T12:00:10", options=opts)
    assert code == 0 and "rate limit" in out
    times = sorted(c["t"] for c in sandbox.sacct_calls())
    assert all(b - a >= 60 for a, b in zip(times, times[2:]))   # never 3 calls within a minute


def test_opted_out_users_are_stored_nowhere_and_come_back_with_a_user_backfill(sandbox):
    sandbox.use_db(GOLDEN_DB)
    os.makedirs(os.path.join(sandbox.root, "config"))
    optout = os.path.join(sandbox.root, "config", "optout.txt")
    with open(optout, "w") as handle:
        handle.write("# people who asked\nBOB   # via ticket 42\n")
    backfill(sandbox)
    for folder, _, names in os.walk(sandbox.cluster_dir()):
        for name in names:
            assert b"bob" not in open(os.path.join(folder, name), "rb").read(), name
    os.unlink(optout)
    code, out, err = backfill(sandbox, "--user", "bob", "--since", "2024-01")
    assert code == 0, err
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])


def test_opting_out_after_being_counted_purges_and_opting_back_in_restores(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    os.makedirs(os.path.join(sandbox.root, "config"), exist_ok=True)
    with open(os.path.join(sandbox.root, "config", "optout.txt"), "w") as handle:
        handle.write("carol\n")
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
    assert "removed 1 opted-out user" in out
    assert "carol" not in sandbox.alltime() and all("carol" not in users for users in sandbox.monthly().values())
    assert all("carol" not in [r["user"] for r in rows] for rows in sandbox.board()["boards"].values())
    os.unlink(os.path.join(sandbox.root, "config", "optout.txt"))
    backfill(sandbox, "--user", "carol", "--since", "2024-01")   # what discover will queue
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert_same_totals(sandbox.alltime(), EXPECTED["alltime"])


def test_home_directory_optout_file(sandbox, tmp_path):
    sandbox.use_db(GOLDEN_DB)
    homes = tmp_path / "homes"
    (homes / "alice").mkdir(parents=True)
    (homes / "alice" / ".slurm_scoreboard_optout").write_text("")
    settings = config.load(env={}, flags={"root": sandbox.root, "cluster": "hammer", "sacct": sandbox.sacct,
                                          "squeue": sandbox.squeue,
                                          "rate_limit_per_min": 0, "backfill_start": "2024-01"})
    import calendar
    clock = lambda: calendar.timegm((2024, 4, 10, 12, 0, 0))  # noqa: E731
    Engine(settings, clock=clock, out=lambda t: None, err=lambda t: None,
           home_lookup=lambda user: str(homes / user)).run(backfill_cmd.backfill)
    expected = oracle_monthly(GOLDEN_DB, optout=("alice",))
    assert_same_totals(sandbox.monthly(), expected)
    assert "alice" not in sandbox.alltime()


def test_count_cancelled_as_failure(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox, options=("rate_limit_per_min=0", START, "count_cancelled_as_failure=true"))
    assert_same_totals(sandbox.monthly(), oracle_monthly(GOLDEN_DB, count_cancelled=True))


def test_backfill_start_day_is_honoured(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox, options=("rate_limit_per_min=0", "backfill_start=2024-01-20"))
    calls = sandbox.sacct_calls()
    assert calls[0]["argv"][calls[0]["argv"].index("-S") + 1] == "2024-01-20T00:00:00"
    rows = [r for r in oracle.load_rows(GOLDEN_DB) if "." in r["JobIDRaw"] or r["End"] >= "1705708800"]
    assert_same_totals(sandbox.monthly(), oracle.nest_monthly(oracle.monthly_totals(rows)))


def test_dry_run_prints_the_commands_and_writes_nothing(sandbox):
    sandbox.use_db(GOLDEN_DB)
    code, out, err = backfill(sandbox, "--dry-run")
    assert code == 0
    commands = [l for l in out.splitlines() if l.startswith("$ TZ=UTC SLURM_TIME_FORMAT=%s")]
    assert len(commands) == 4 and "-S 2024-02-01T00:00:00" in commands[1]
    assert not os.path.exists(sandbox.root) and sandbox.sacct_calls() == []


def test_only_fields_this_sacct_knows_are_requested(sandbox, monkeypatch):
    sandbox.use_db(GOLDEN_DB)
    monkeypatch.setenv("FAKE_SACCT_DROP_FIELDS", "MaxRSS,AveRSS")     # memory then comes from TRES usage
    assert backfill(sandbox)[0] == 0
    fields = sandbox.sacct_calls()[0]["argv"][-1].split(",")
    assert fields[1:3] == ["TRESUsageInMax", "TRESUsageInAve"] and "MaxRSS" not in fields
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    monkeypatch.setenv("FAKE_SACCT_DROP_FIELDS", "ReqTRES")
    code, out, err = backfill(sandbox)
    assert code == 1 and "lacks the field(s) ReqTRES" in err and len(err.strip().splitlines()) == 1


def test_a_user_whose_jobs_never_started_has_no_files(sandbox):
    lines = [HEADER, job_line("600", "frank", "CANCELLED by 0", "Unknown", T0 - 600, 0),
             job_line("601", "gina", "COMPLETED", T0 - 1200, T0 - 600, 600)]
    sandbox.write_db("\n".join(lines) + "\n")
    sandbox.run("backfill", now=iso(T0), options=("rate_limit_per_min=0", "backfill_start=2024-04"))
    assert sorted(sandbox.alltime()) == ["gina"]
    assert "frank" not in json.dumps(sandbox.monthly())


def test_a_damaged_user_file_is_kept_as_bad_named_once_and_rebuilt_exactly(sandbox):
    """Damage is never fatal (issue 14): the file is quarantined, rebuilt from the rollups, the job counted."""
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    path = os.path.join(sandbox.cluster_dir(), "agg", "users", "alice.json")
    open(path, "w").write("{not json")
    with open(os.path.join(sandbox.db_dir, "hammer.db"), "a") as handle:
        handle.write(job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 600, 600) + "\n")   # settled: read
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0 and err.count("alice.json is damaged") == 1 and "kept as alice.json.bad" in err
    assert open(path + ".bad").read() == "{not json"
    months = sandbox.monthly()
    assert sandbox.alltime()["alice"]["jobs"] == sum(m["alice"]["jobs"] for m in months.values() if "alice" in m)
    assert months["2024-04"]["alice"]["jobs"] == oracle_monthly(GOLDEN_DB).get("2024-04", {}).get("alice", {}).get("jobs", 0) + 1


def generated_db(path, seed, jobs=3000, malformed_rate=0.002):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(GOLDEN), "..", "bench"))
    import gen_sacct
    with open(path, "w") as handle:
        gen_sacct.generate(handle, jobs, seed, start="2024-01-01", days=90, users=60, cluster="hammer",
                           malformed_rate=malformed_rate)


def assert_close_to_oracle(got, expected):
    """Exact but for memory: we keep KiB, the oracle bytes (real MaxRSS is whole KiB anyway)."""
    assert sorted(got) == sorted(expected)
    for month in expected:
        assert sorted(got[month]) == sorted(expected[month]), month
        for user, metrics in expected[month].items():
            for metric, value in metrics.items():
                slack = 0.001 * metrics["jobs"] if metric.endswith("_mem_mb") else 1e-9 * max(1, value)
                assert abs(got[month][user][metric] - value) <= slack, (month, user, metric)


@pytest.mark.parametrize("seed", [7, 11])
def test_generated_months_match_the_oracle_through_sacct(sandbox, tmp_path, seed):
    db = str(tmp_path / "hammer.db")
    generated_db(db, seed)
    sandbox.use_db(db)
    code, out, err = backfill(sandbox, now="2024-04-05T00:00:00")
    assert code == 0, err
    assert_close_to_oracle(sandbox.monthly(), oracle_monthly(sandbox.sacct_dump("2024-01-01", "2024-04-05")))


# ---- regressions from review ------------------------------------------------------------------------

def poll_at(sandbox, epoch, *options):
    return sandbox.run("poll", now=iso(epoch), options=("rate_limit_per_min=0", "backfill_start=2024-04") + options)


def test_opting_back_in_after_a_poll_still_recounts_the_purged_jobs(sandbox):
    old = job_line("700", "carol", "COMPLETED", T0 - 7200, T0 - 3600, 3600)
    sandbox.write_db("\n".join([HEADER, old]) + "\n")
    assert poll_at(sandbox, T0)[0] == 0
    os.makedirs(os.path.join(sandbox.root, "config"), exist_ok=True)
    optout = os.path.join(sandbox.root, "config", "optout.txt")
    open(optout, "w").write("carol\n")
    assert "removed 1 opted-out" in poll_at(sandbox, T0 + 600)[1]
    os.unlink(optout)
    new = job_line("701", "carol", "COMPLETED", T0 + 700, T0 + 1200, 500, submit=T0 + 650)
    sandbox.write_db("\n".join([HEADER, old, new]) + "\n")
    poll_at(sandbox, T0 + 1800)                                  # cron counts the new job first
    assert sandbox.monthly()["2024-04"]["carol"]["jobs"] == 1
    code, out, err = sandbox.run("backfill", "--user", "carol", "--since", "2024-04", now=iso(T0 + 2400),
                                 options=("rate_limit_per_min=0", "backfill_start=2024-04"))
    assert code == 0, err
    assert sandbox.monthly()["2024-04"]["carol"]["jobs"] == 2
    assert sandbox.alltime()["carol"]["elapsed_hours"] == pytest.approx((3600 + 500) / 3600)
    purged = json.load(open(os.path.join(sandbox.cluster_dir(), "state", "purged.json")))
    assert "carol" not in purged
    code, out, err = sandbox.run("backfill", "--user", "carol", "--since", "2024-04", now=iso(T0 + 3000),
                                 options=("rate_limit_per_min=0", "backfill_start=2024-04"))
    assert sandbox.monthly()["2024-04"]["carol"]["jobs"] == 2      # and it stays idempotent


def test_backfill_user_takes_exactly_one_valid_name(sandbox):
    sandbox.use_db(GOLDEN_DB)
    code, out, err = backfill(sandbox, "--user", "bob,carol")
    assert code == 1 and err.count("\n") == 1 and "--user 'bob,carol': expected one username" in err


def test_poll_alone_gets_through_a_narrow_max_query_time_range_under_the_rate_limit(sandbox, monkeypatch):
    sandbox.use_db(GOLDEN_DB)
    monkeypatch.setenv("FAKE_SACCT_MAX_RANGE_SEC", str(8 * 86400))
    epoch = T0
    for _ in range(15):
        code, out, err = sandbox.run("poll", now=iso(epoch), options=("rate_limit_per_min=2", START))
        assert code == 0, err
        epoch += 600
    assert sandbox.cursor()["coldstart_done"]
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert len(sandbox.sacct_calls()) <= 2 * 15


def test_nothing_before_backfill_start_is_ever_counted(sandbox):
    lines = [HEADER, job_line("800", "erin", "COMPLETED", T0 - 11 * 86400, T0 - 10 * 86400, 60),   # 03-31
             job_line("801", "erin", "COMPLETED", T0 - 9 * 86400, T0 - 8 * 86400, 60),              # 04-02
             job_line("802", "erin", "COMPLETED", T0 - 5 * 86400, T0 - 4 * 86400, 60)]              # 04-06
    sandbox.write_db("\n".join(lines) + "\n")
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04-05")
    assert sandbox.run("poll", now=iso(T0), options=opts)[0] == 0
    assert sandbox.monthly() == {"2024-04": {"erin": sandbox.monthly()["2024-04"]["erin"]}}
    assert sandbox.monthly()["2024-04"]["erin"]["jobs"] == 1
    sandbox.run("backfill", "--user", "erin", "--since", "2024-03", now=iso(T0), options=opts)
    assert sandbox.monthly()["2024-04"]["erin"]["jobs"] == 1 and "2024-03" not in sandbox.monthly()


def test_unreadable_paths_give_one_line(sandbox, tmp_path):
    code, out, err = sandbox.run("replay", str(tmp_path / "missing.txt"))
    assert code == 1 and err.count("\n") == 1 and "missing.txt: No such file or directory" in err
    afile = tmp_path / "afile"
    afile.write_text("x")
    sandbox.root = str(afile)
    sandbox.use_db(GOLDEN_DB)
    code, out, err = backfill(sandbox)
    assert code == 1 and err.count("\n") == 1 and "afile" in err


def test_an_infinite_total_is_reported_as_damage(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    path = os.path.join(sandbox.cluster_dir(), "agg", "users", "alice.json")
    text = gzip.decompress(open(path, "rb").read()).decode()
    damaged = re.sub(r'"elapsed_hours": ?[0-9.]+', '"elapsed_hours": Infinity', text)
    assert damaged != text
    open(path, "w").write(damaged)
    with open(os.path.join(sandbox.db_dir, "hammer.db"), "a") as handle:   # a new job of hers: her file is read
        handle.write(job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 600, 600) + "\n")
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0 and err.count("alice.json is damaged") == 1 and "Infinity" in open(path + ".bad").read()
    assert sandbox.alltime()["alice"]["elapsed_hours"] < 1e9


def test_rebuild_purges_opted_out_users_found_only_in_rollups(sandbox):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    for name in os.listdir(os.path.join(sandbox.cluster_dir(), "agg", "users")):
        os.unlink(os.path.join(sandbox.cluster_dir(), "agg", "users", name))
    os.makedirs(os.path.join(sandbox.root, "config"), exist_ok=True)
    open(os.path.join(sandbox.root, "config", "optout.txt"), "w").write("dave\n")
    assert sandbox.run("rebuild", now=NOW)[0] == 0
    assert "dave" not in sandbox.alltime() and "dave" not in json.dumps(sandbox.monthly())
    assert sorted(sandbox.alltime()) == ["alice", "bob", "carol"]


def test_a_job_is_read_only_once_settled_so_its_steps_memory_is_in(sandbox):
    sandbox.write_db("\n".join([HEADER, job_line("650", "hana", "COMPLETED", T0 - 400, T0 - 100, 300)]) + "\n")
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    assert poll_at(sandbox, T0)[0] == 0
    calls = sandbox.sacct_calls()
    assert calls[-1]["argv"][calls[-1]["argv"].index("-E") + 1] == iso(T0 - 300)   # reads stop 5 min back
    assert sandbox.monthly() == {}
    assert sandbox.run("poll", now=iso(T0 + 300), options=opts)[0] == 0
    assert sandbox.monthly()["2024-04"]["hana"]["jobs"] == 1


# ---- long windows committed in pieces (flat memory) ---------------------------------------------------

def everything(sandbox):
    """agg/ (asof masked), the seen files and the problem log (times masked): all that a run leaves."""
    found = sandbox.files()
    found.update(("seen/" + k, v) for k, v in sandbox.files("state/seen").items())
    log = os.path.join(sandbox.cluster_dir(), "state", "problems.log")
    found["problems.log"] = re.sub(rb"(?m)^\S+Z ", b"", open(log, "rb").read()) if os.path.exists(log) else b""
    return found


def count_pieces(monkeypatch):
    pieces = []
    original = Engine.commit_piece

    def commit_piece(self, intake):
        pieces.append(intake.batch.jobs)
        original(self, intake)
    monkeypatch.setattr(Engine, "commit_piece", commit_piece)
    return pieces


def test_a_window_committed_in_pieces_leaves_the_same_files_as_one_commit(sandbox, tmp_path, monkeypatch):
    db = str(tmp_path / "hammer.db")
    generated_db(db, seed=7)
    sandbox.use_db(db)
    code, _, err = backfill(sandbox, now="2024-04-05T00:00:00")
    assert code == 0, err
    reference = everything(sandbox)
    pieces = count_pieces(monkeypatch)
    monkeypatch.setenv("SLURM_SB_PIECE_JOBS", "97")
    sandbox.root = str(tmp_path / "in-pieces")
    code, out, err = backfill(sandbox, now="2024-04-05T00:00:00")
    assert code == 0, err
    assert len(pieces) >= 20 and set(pieces) == {97}
    assert everything(sandbox) == reference
    assert "new job(s) in 4 window(s)" in out                    # pieces are not windows


def test_sacct_dying_after_some_pieces_keeps_them_and_the_rerun_counts_the_rest_once(sandbox, tmp_path,
                                                                                   monkeypatch):
    db = str(tmp_path / "hammer.db")
    generated_db(db, seed=11)
    sandbox.use_db(db)
    assert backfill(sandbox, now="2024-04-05T00:00:00")[0] == 0
    reference = everything(sandbox)
    sandbox.root = str(tmp_path / "interrupted")
    monkeypatch.setenv("SLURM_SB_PIECE_JOBS", "50")
    monkeypatch.setenv("FAKE_SACCT_FAIL_AFTER_LINES", "2500")
    pieces = count_pieces(monkeypatch)
    code, out, err = sandbox.run("poll", now="2024-04-05T00:00:00", options=("rate_limit_per_min=0", START))
    assert code == 1 and "sacct exited 1" in err
    assert pieces and sum(sandbox.monthly()["2024-01"][u]["jobs"] for u in sandbox.monthly()["2024-01"]) == \
        50 * len(pieces)                                         # the pieces before the failure are kept…
    assert not os.path.exists(os.path.join(sandbox.cluster_dir(), "state", "poll_cursor.json"))
    monkeypatch.delenv("FAKE_SACCT_FAIL_AFTER_LINES")
    assert backfill(sandbox, now="2024-04-05T00:00:00")[0] == 0
    done = everything(sandbox)
    assert {p: v for p, v in done.items() if p != "problems.log"} == \
        {p: v for p, v in reference.items() if p != "problems.log"}   # …and nothing is counted twice
    assert re.sub(rb"\d+ already_counted, ", b"", done["problems.log"]) == \
        re.sub(rb"\d+ already_counted, ", b"", reference["problems.log"])


# ---- leaderboards rebuilt only when something they show may have changed ------------------------------

def board_stats(sandbox):
    folder = os.path.join(sandbox.cluster_dir(), "agg", "leaderboards")
    return {name: os.stat(os.path.join(folder, name)).st_ino for name in sorted(os.listdir(folder))}


def test_a_tick_with_nothing_new_leaves_the_boards_alone_and_a_new_day_or_job_rebuilds_them(sandbox, monkeypatch):
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    written = board_stats(sandbox)
    reads = []
    original = ClusterData.user
    monkeypatch.setattr(ClusterData, "user", lambda self, user: reads.append(user) or original(self, user))
    code, _, err = sandbox.run("poll", now="2024-04-10T12:10:00", options=("rate_limit_per_min=0", START))
    assert code == 0, err
    assert board_stats(sandbox) == written and reads == []        # nothing new: no file read, none written
    sandbox.run("poll", now="2024-04-11T00:00:10", options=("rate_limit_per_min=0", START))
    assert all(board_stats(sandbox)[name] != written[name] for name in written)   # a new UTC day: rebuilt
    written = board_stats(sandbox)
    sandbox.run("poll", now="2024-04-11T00:20:00", options=("rate_limit_per_min=0", START, "min_jobs=1"))
    assert all(board_stats(sandbox)[name] != written[name] for name in written)   # another setting: rebuilt


def test_boards_missed_after_a_commit_are_rebuilt_by_the_next_tick(sandbox, monkeypatch):
    """A commit that counts jobs deletes state/boards.json in its own transaction, so a run that dies
    between the commit and the boards leaves them marked out of date, even on the same UTC day."""
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    before = sandbox.board()
    with open(os.path.join(sandbox.db_dir, "hammer.db"), "a") as handle:
        handle.write(job_line("900", "alice", "COMPLETED", T0 + 100, T0 + 1000, 900) + "\n")
    original, killed = boards_mod.write_boards, [True]
    monkeypatch.setattr(boards_mod, "write_boards", lambda engine: None if killed[0] else original(engine))
    sandbox.run("poll", now=iso(T0 + 2000), options=("rate_limit_per_min=0", START))   # killed after the commit
    assert sandbox.board() == before                                        # stale…
    killed[0] = False
    sandbox.run("poll", now=iso(T0 + 2100), options=("rate_limit_per_min=0", START))
    rows = {r[0]: r[1] for r in zip(*sandbox.board()["table"]["data"])}
    assert rows == {user: metrics["jobs"] for user, metrics in sandbox.alltime().items()}   # …until the next tick
    assert rows["alice"] == {r[0]: r[1] for r in zip(*before["table"]["data"])}["alice"] + 1


# ---- a busy lock: poll leaves at once, the other commands wait (--wait), then exit 75 ---------------

def test_rebuild_waits_for_a_busy_lock_then_exits_75_saying_to_retry(sandbox):
    import time
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    paths = ClusterPaths(sandbox.root, "hammer")
    for command in ("rebuild", "backfill", "discover"):
        with ClusterLock(paths):
            began = time.time()
            code, out, err = sandbox.run(command, "--wait", "1", now=NOW, options=("rate_limit_per_min=0", START))
        assert code == 75 and 1 <= time.time() - began < 10, (command, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "still holds" in lines[0] and "again later" in lines[0]
        assert "pid={}".format(os.getpid()) in lines[0]


def test_rebuild_does_its_work_once_the_holder_lets_go(sandbox):
    import threading
    import time
    sandbox.use_db(GOLDEN_DB)
    backfill(sandbox)
    paths = ClusterPaths(sandbox.root, "hammer")
    os.unlink(paths.user("alice"))
    lock = ClusterLock(paths).__enter__()
    threading.Timer(1.0, lambda: lock.__exit__(None, None, None)).start()
    began = time.time()
    code, out, err = sandbox.run("rebuild", "--wait", "30", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0 and time.time() - began >= 0.9, err
    assert "alice" in sandbox.alltime() and out.count("waiting up to 30 s") == 1


def test_the_lock_waits_default_to_300_s_except_for_poll():
    from sb import cli
    parser = cli.build_parser()
    for command, wait in (("poll", 0), ("rebuild", 300), ("backfill", 300), ("discover", 300)):
        args = parser.parse_args([command])
        assert (cli.LOCK_WAIT_DEFAULT[args.command] if args.wait is None else args.wait) == wait
    with pytest.raises(SystemExit):
        parser.parse_args(["rebuild", "--wait", "nan"])


def test_a_backfill_writes_each_user_file_once_and_a_kill_before_that_is_rebuilt(sandbox, monkeypatch):
    db = str(sandbox.tmp / "three-months.db")
    generated_db(db, seed=5, jobs=900)                       # 2024-01 .. 2024-03: three windows
    sandbox.use_db(db)
    renamed, real_replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(b), real_replace(a, b))[1])
    opts = ("rate_limit_per_min=0", "backfill_start=2024-01")
    assert sandbox.run("backfill", now="2024-04-05T00:00:00", options=opts)[0] == 0
    users = [p for p in renamed if os.path.dirname(p).endswith(os.path.join("agg", "users"))]
    assert len(users) == len(set(users)) >= 50                # once each, not once a month
    reference = sandbox.files()
    sandbox.root = str(sandbox.tmp / "stopped")             # a run that never reached its user files…
    import sb.collect.commit as commit_mod
    monkeypatch.setattr(commit_mod, "write_held_users", lambda engine: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sandbox.run("backfill", now="2024-04-05T00:00:00", options=opts)
    assert sandbox.files("agg/users") == {}
    monkeypatch.undo()
    code, out, err = sandbox.run("poll", now="2024-04-05T00:00:00", options=opts)   # …is rebuilt by the next
    assert code == 0 and "before it wrote its user totals" in err
    assert sandbox.files() == reference

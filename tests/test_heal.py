"""Self-healing storage (issue 14 §1): a missing or damaged file is kept as *.bad, what is derived is rebuilt,
and a month whose primary data is gone is re-pulled from sacct in replace mode, never counted twice, never
replaced by a smaller re-read. Every figure is checked against the oracle's computation from the sacct dump."""
import datetime
import json
import os

from conftest import oracle
from test_collector import assert_close_to_oracle, generated_db

NOW = "2024-04-05T00:00:00"
OPTS = ("rate_limit_per_min=0", "backfill_start=2024-01")


def filled(sandbox, tmp_path, seed=5):
    db = str(tmp_path / "hammer.db")
    generated_db(db, seed=seed, jobs=1200, malformed_rate=0)
    sandbox.use_db(db)
    assert sandbox.run("backfill", now=NOW, options=OPTS)[0] == 0
    return db


def expected(db, **kwargs):
    return oracle.nest_monthly(oracle.monthly_totals(oracle.load_rows(db), **kwargs))


def path(sandbox, *parts):
    return os.path.join(sandbox.cluster_dir(), *parts)


def assert_everything_exact(sandbox, db, today=datetime.date(2024, 4, 5)):
    """Monthly rollups, user totals and the rolling boards equal the oracle's sums of the sacct dump."""
    months = expected(db)
    assert_close_to_oracle(sandbox.monthly(), months)
    alltime = {}
    for users in months.values():
        for user, metrics in users.items():
            total = alltime.setdefault(user, dict.fromkeys(metrics, 0))
            for key, value in metrics.items():
                total[key] += value
    assert_close_to_oracle({"all": sandbox.alltime()}, {"all": alltime})
    rows = oracle.load_rows(db)
    for window, days in (("30d", 30), ("365d", 365)):
        first = (today - datetime.timedelta(days=days - 1)).isoformat()
        table = sandbox.board(window)["table"]
        got = dict(zip(table["data"][0], table["data"][1]))                 # user → jobs in the window
        want = {u: m["jobs"] for u, m in oracle.window_totals(rows, first, today.isoformat()).items()}
        assert got == want, window


def poll(sandbox, now="2024-04-05T00:10:00"):
    code, out, err = sandbox.run("poll", now=now, options=OPTS)
    assert code == 0, err
    return out, err


def test_a_deleted_seen_file_is_re_pulled_and_nothing_counts_twice(sandbox, tmp_path):
    db = filled(sandbox, tmp_path)
    os.unlink(path(sandbox, "state", "seen", "submit-2024-03.seen"))
    out, err = poll(sandbox)
    assert "2024-03" in err and "re-pulled" in err
    assert_everything_exact(sandbox, db)
    assert json.load(open(path(sandbox, "state", "manifest.json")))["repull"] == {}
    poll(sandbox, "2024-04-05T00:20:00")                          # the late window is re-read again: still exact
    assert_everything_exact(sandbox, db)


def test_a_deleted_daily_rollup_is_re_pulled_and_no_window_is_cut(sandbox, tmp_path):
    db = filled(sandbox, tmp_path)
    os.unlink(path(sandbox, "agg", "rollups", "daily", "2024-03.json"))
    poll(sandbox)
    assert_everything_exact(sandbox, db)
    assert sandbox.run("rebuild", now="2024-04-05T00:15:00", options=OPTS)[0] == 0
    assert_everything_exact(sandbox, db)


def test_a_deleted_user_file_comes_back_at_the_next_run(sandbox, tmp_path):
    db = filled(sandbox, tmp_path)
    victim = sorted(os.listdir(path(sandbox, "agg", "users")))[0]
    os.unlink(path(sandbox, "agg", "users", victim))
    out, err = poll(sandbox)
    assert "rebuilding" in err and os.path.exists(path(sandbox, "agg", "users", victim))
    assert_everything_exact(sandbox, db)


def test_garbled_and_truncated_files_are_kept_as_bad_and_healed(sandbox, tmp_path):
    db = filled(sandbox, tmp_path)
    daily = path(sandbox, "agg", "rollups", "daily", "2024-02.json")
    import gzip
    text = gzip.decompress(open(daily, "rb").read())
    changed = text.replace(b",1,", b",2,", 1)
    assert changed != text
    open(daily, "wb").write(gzip.compress(changed))               # valid JSON, valid counters: only the crc knows
    monthly = path(sandbox, "agg", "rollups", "monthly", "2024-01.json")
    open(monthly, "wb").write(open(monthly, "rb").read()[:200])    # cut short
    out, err = poll(sandbox, "2024-04-06T00:10:00")                # a new day: every file's checksum is checked
    assert os.path.exists(daily + ".bad") and os.path.exists(monthly + ".bad")
    assert "checksum mismatch" in err
    assert_everything_exact(sandbox, db, today=datetime.date(2024, 4, 6))
    quarantined = json.load(open(path(sandbox, "state", "manifest.json")))["quarantined"]
    assert "agg/rollups/daily/2024-02.json.bad" in quarantined


def test_a_re_pull_finding_fewer_jobs_keeps_the_last_good_data_and_marks_the_month(sandbox, tmp_path):
    """slurmdbd purged the month meanwhile (past its retention): the smaller re-read must not replace it."""
    db = filled(sandbox, tmp_path)
    before = sandbox.monthly()["2024-01"]
    lines = open(db).read().splitlines(True)
    kept = [lines[0]] + [l for l in lines[1:] if not l.split("|")[17].startswith("1704")]  # drop early-Jan Ends
    sandbox.write_db("".join(kept))
    os.unlink(path(sandbox, "state", "seen", "submit-2024-01.seen"))
    out, err = poll(sandbox)
    assert "past slurmdbd's retention" in err
    assert sandbox.monthly()["2024-01"] == before
    for minute in (20, 30):                       # the later months its jobs may have ended in: one per tick
        poll(sandbox, "2024-04-05T00:{}:00".format(minute))
    manifest = json.load(open(path(sandbox, "state", "manifest.json")))
    assert "2024-01" in manifest["kept"] and manifest["repull"] == {}


def test_damage_everywhere_then_rebuild_and_polls_end_exact_with_the_bad_copies_kept(sandbox, tmp_path):
    """The issue's case: a monthly rollup, a seen file, a daily rollup and a user file at once."""
    db = filled(sandbox, tmp_path)
    open(path(sandbox, "agg", "rollups", "monthly", "2024-02.json"), "w").write("{garbage")
    os.unlink(path(sandbox, "state", "seen", "submit-2024-01.seen"))
    open(path(sandbox, "agg", "rollups", "daily", "2024-03.json"), "w").write("")
    victim = sorted(os.listdir(path(sandbox, "agg", "users")))[-1]
    open(path(sandbox, "agg", "users", victim), "w").write("[]")
    assert sandbox.run("rebuild", now="2024-04-05T00:05:00", options=OPTS)[0] == 0
    for minute in (10, 20, 30):
        poll(sandbox, "2024-04-05T00:{}:00".format(minute))
    assert_everything_exact(sandbox, db)
    for bad in (("agg", "rollups", "monthly", "2024-02.json.bad"), ("agg", "rollups", "daily", "2024-03.json.bad"),
                ("agg", "users", victim + ".bad")):
        assert os.path.exists(path(sandbox, *bad)), bad


def test_doctor_lists_quarantined_files_and_months_owed(sandbox, tmp_path):
    filled(sandbox, tmp_path)
    open(path(sandbox, "agg", "rollups", "daily", "2024-02.json"), "w").write("{cut")
    failing = os.path.join(str(tmp_path), "bin", "no-sacct")       # the re-pull cannot run: the month stays owed
    open(failing, "w").write("#!/bin/sh\nexit 1\n")
    os.chmod(failing, 0o755)
    sandbox.run("poll", now="2024-04-06T00:10:00", options=OPTS + ("sacct=" + failing,))
    code, out, err = sandbox.run("doctor", options=OPTS)
    assert "damaged file(s) kept as .bad: agg/rollups/daily/2024-02.json.bad" in out
    assert "waiting to be re-pulled from sacct: 2024-02" in out


def test_a_damaged_leaderboard_is_rewritten_by_a_poll_with_nothing_new(sandbox, tmp_path):
    filled(sandbox, tmp_path)
    board = path(sandbox, "agg", "leaderboards", "alltime.json")
    good = open(board, "rb").read()
    open(board, "wb").write(good.replace(b'"jobs":[', b'"jobs":[\n', 1) if b'"jobs":[' in good
                            else good[:-40] + good[-39:])                      # still JSON or not: crc fails
    poll(sandbox)
    assert os.path.exists(board + ".bad")
    import re
    strip = lambda data: re.sub(rb'"(asof|crc32)":"[^"]*"', b"", data)   # noqa: E731
    assert strip(open(board, "rb").read()) == strip(good)


def test_the_board_marks_a_cluster_whose_months_are_being_repaired(sandbox, tmp_path):
    from sb.scores.board import Scores
    filled(sandbox, tmp_path)
    manifest_path = path(sandbox, "state", "manifest.json")
    assert Scores(sandbox.root).trouble("hammer") == ""
    from sb.store import manifest as manifest_file
    from sb.store.layout import ClusterPaths
    manifest = manifest_file.load(ClusterPaths(sandbox.root, "hammer"))
    manifest["repull"] = {"2024-02": {"jobs": 10, "why": "x"}, "2024-03": {"jobs": 10, "why": "x"}}
    open(manifest_path, "wb").write(manifest_file.to_json(manifest))
    assert Scores(sandbox.root).trouble("hammer") == "repairing 2 months"
    code, out, err = sandbox.run("tui", "--backend", "ansi", "--cluster", "hammer")
    assert "repairing 2 months" in out

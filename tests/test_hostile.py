"""Hostile or broken sacct output (issue 14 §2): cut-off lines, Ends outside the window, errors on stderr with
exit 0, fields past every bound, and bad lines re-read by the late window: each is counted as a problem
(or fails the window), never a crash, never a job of another month, and reported once."""
import os

from sb.collect.engine import _within
from sb.collect.jobs import FIELDS, LineReport, fold_jobs
from test_collector import HEADER, T0, iso, job_line, poll_at

D = "#|#"


def canonical(**fields):
    """One allocation line in the collector's field order (what sacct prints for its -o list)."""
    values = {name: "" for name in FIELDS}
    values.update({"JobIDRaw": "7", "MaxRSS": "", "AveRSS": "", "User": "alice", "State": "COMPLETED",
              "ElapsedRaw": "60", "AllocCPUS": "2", "NNodes": "1", "ReqMem": "1G", "ReqTRES": "",
              "AllocTRES": "cpu=2", "Submit": str(T0 - 300), "Start": str(T0 - 120), "End": str(T0 - 60)})
    values.update(fields)
    return D.join(values[f] for f in FIELDS) + "\n"


def fold(*lines, latest_end=T0):
    report = LineReport()
    return list(fold_jobs(list(lines), D, report, latest_end=latest_end)), report


def test_a_last_line_without_its_newline_never_counts():
    cut = canonical(End="1796").rstrip("\n")              # End cut from 1796... to 1796: 1970-01-01
    jobs, report = fold(canonical(JobIDRaw="6"), cut)
    assert [j.key >> 32 for j in jobs] == [6] and report.get("cut_off") == 1
    step = canonical(JobIDRaw="7.batch", MaxRSS="1024").rstrip("\n")   # a step cut: its job is incomplete
    jobs, report = fold(canonical(), step)
    assert jobs == [] and report.get("cut_off") == 1


def test_every_field_past_its_bound_is_malformed_and_the_run_goes_on():
    hostile = {
        "ElapsedRaw": "4294967294", "AllocCPUS": "4294967295", "NNodes": "4294967294",
        "End": "1" + "0" * 20, "Start": str(T0), "Submit": "\u0661\u0662\u0663",    # Arabic-Indic digits
        "User": "a" * 230,
    }
    for field, value in hostile.items():
        jobs, report = fold(canonical(**{field: value}), canonical(JobIDRaw="8"))
        assert [j.key >> 32 for j in jobs] == [8] and report.get("malformed") == 1, field
    jobs, report = fold(canonical(End=str(T0 + 2 * 86400)), latest_end=T0 + 3600)       # in the future
    assert jobs == [] and report.get("malformed") == 1
    jobs, report = fold(canonical(Start=str(T0 - 10), End=str(T0 - 60)))                # ends before it starts
    assert jobs == [] and report.get("malformed") == 1


def test_no_val_memory_is_no_sample_and_absurd_memory_is_malformed():
    no_val = canonical(JobIDRaw="7.batch", MaxRSS="18446744073709551614", AveRSS="18446744073709551614")
    jobs, report = fold(canonical(), no_val, canonical(JobIDRaw="7.0", MaxRSS="2048K", AveRSS="1024K"))
    assert jobs[0].max_bytes == 2048 << 10 and jobs[0].avg_bytes == 1024 << 10 and report.total() == 0
    jobs, report = fold(canonical(), canonical(JobIDRaw="7.batch", MaxRSS="9000P"))
    assert report.get("malformed") == 1 and jobs[0].max_bytes == 0


def test_a_job_ending_outside_the_window_is_a_problem_not_a_job_of_another_month():
    jobs, _ = fold(canonical(End=str(T0 - 60)), canonical(JobIDRaw="8", End="86400", Start="60", Submit="1"))
    report = LineReport()
    kept = list(_within(iter(jobs), T0 - 3600, T0, report))
    assert [j.key >> 32 for j in kept] == [7] and report.get("outside_window") == 1


def wrapper(sandbox, body):
    """A sacct that answers --helpformat like the fake one and runs `body` (sh) for queries."""
    path = os.path.join(str(sandbox.tmp), "bin", "sacct-wrapper")
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\ncase "$*" in *--helpformat*) exec "{0}" "$@";; esac\n{1}\n'.format(sandbox.sacct, body))
    os.chmod(path, 0o755)
    return "sacct=" + path


def test_output_cut_mid_line_with_exit_0_commits_nothing_and_is_read_again(sandbox):
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300),
                                job_line("901", "bob", "COMPLETED", T0 - 1200, T0 - 800, 400)]) + "\n")
    cut = wrapper(sandbox, '"{}" "$@" > "$0.out"; head -c $(( $(wc -c < "$0.out") - 9 )) "$0.out"; exit 0'.format(
        sandbox.sacct))
    code, out, err = poll_at(sandbox, T0, cut)
    assert code == 1 and "cut off" in err
    assert sandbox.monthly() == {}                               # not bob's cut line, not alice's neither
    assert poll_at(sandbox, T0 + 600)[0] == 0                    # the real sacct later: each counted once
    assert {u: m["jobs"] for u, m in sandbox.monthly()["2024-04"].items()} == {"alice": 1, "bob": 1}


def test_an_error_on_stderr_with_exit_0_is_a_failure_shown_to_the_user(sandbox):
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300)]) + "\n")
    failing = wrapper(sandbox, 'echo "sacct: error: Problem talking to the database: Connection refused" >&2; exit 0')
    code, out, err = poll_at(sandbox, T0, failing)
    assert code == 1 and "Problem talking to the database" in err
    assert not os.path.exists(os.path.join(sandbox.cluster_dir(), "state", "poll_cursor.json"))
    assert poll_at(sandbox, T0 + 600)[0] == 0 and sandbox.monthly()["2024-04"]["alice"]["jobs"] == 1


def test_a_bad_line_re_read_by_the_late_window_is_reported_once(sandbox):
    bad = job_line("902", "x/y", "COMPLETED", T0 - 1200, T0 - 900, 300)
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300), bad]) + "\n")
    code, out, err = poll_at(sandbox, T0)
    assert code == 0 and "1 malformed line(s)" in err
    for later in (600, 1200):                                    # the late window reads it again every tick
        code, out, err = poll_at(sandbox, T0 + later)
        assert code == 0 and "malformed" not in err
    log = open(os.path.join(sandbox.cluster_dir(), "state", "problems.log")).read()
    assert log.count("x/y") == 1 and log.count("1 malformed") == 3    # counted every window, shown once


def test_a_tick_that_rereads_only_counted_and_unstarted_jobs_writes_no_log_and_no_unchanged_state(sandbox):
    bad = job_line("902", "x/y", "COMPLETED", T0 - 1200, T0 - 900, 300)
    unstarted = job_line("901", "bob", "CANCELLED by 1", "Unknown", T0 - 900, 0)
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300), bad,
                                unstarted]) + "\n")
    state = os.path.join(sandbox.cluster_dir(), "state")
    assert poll_at(sandbox, T0)[0] == 0
    files = {name: os.stat(os.path.join(state, name)) for name in ("manifest.json", "reported_lines.json")}
    assert poll_at(sandbox, T0 + 600)[0] == 0                  # the same three lines: one is still malformed
    for name, before in files.items():                        # neither rewritten (a rename makes a new inode)
        assert os.stat(os.path.join(state, name)).st_ino == before.st_ino, name
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300),
                                unstarted]) + "\n")
    assert poll_at(sandbox, T0 + 1200)[0] == 0                 # counted and never started only: not logged
    log = open(os.path.join(state, "problems.log")).read()
    assert log.count(" window ") == 2 and log.count("1 not_started") == 2, log


def test_ten_to_the_twenty_in_a_real_poll_does_not_stall_the_cluster(sandbox):
    huge = job_line("903", "bob", "COMPLETED", T0 - 1200, 10 ** 20, 300)
    no_val = job_line("904", "bob", "COMPLETED", T0 - 1200, T0 - 900, 4294967294, cpus=4294967294)
    sandbox.write_db("\n".join([HEADER, huge, no_val, job_line("905", "bob", "COMPLETED", T0 - 1200, T0 - 900, 60)])
                     + "\n")
    code, out, err = poll_at(sandbox, T0)
    assert code == 0, err
    assert sandbox.monthly()["2024-04"]["bob"]["jobs"] == 1
    assert sandbox.board()["table"]["data"][1] == [1] and iso(T0)


# ---- clock and hangs (issue 14 §3) ----------------------------------------------------------------------

def test_a_poll_with_its_clock_ahead_does_not_blind_every_later_poll(sandbox):
    import json
    sandbox.write_db("\n".join([HEADER, job_line("900", "alice", "COMPLETED", T0 - 1200, T0 - 900, 300)]) + "\n")
    assert sandbox.run("poll", now="2027-06-01T00:00:00", options=("rate_limit_per_min=0", "backfill_start=2024-04"))[0] == 0
    with open(os.path.join(sandbox.db_dir, "hammer.db"), "a") as handle:
        handle.write(job_line("901", "bob", "COMPLETED", T0 + 100, T0 + 300, 200) + "\n")
    code, out, err = poll_at(sandbox, T0 + 1200)
    assert code == 0 and "watermark was in the future" in err
    assert {u: m["jobs"] for u, m in sandbox.monthly()["2024-04"].items()} == {"alice": 1, "bob": 1}
    assert sandbox.cursor()["watermark"] <= T0 + 1200
    code, out, err = poll_at(sandbox, T0 + 1800)
    assert "future" not in err and json.dumps(sandbox.monthly()).count('"jobs": 1') == 2


def test_a_queued_user_month_finishes_even_when_sacct_takes_over_a_second(sandbox):
    import json
    sandbox.write_db("\n".join([HEADER, job_line("900", "bob", "COMPLETED", T0 - 1200, T0 - 900, 300)]) + "\n")
    assert poll_at(sandbox, T0)[0] == 0
    path = os.path.join(sandbox.cluster_dir(), "state", "poll_cursor.json")
    cursor = json.load(open(path))
    cursor["backfill_queue"] = [{"user": "bob", "next_month": "2024-04", "until": "2024-04"}]
    open(path, "w").write(json.dumps(cursor))
    slow = wrapper(sandbox, 'sleep 1.2; exec "{}" "$@"'.format(sandbox.sacct))
    assert poll_at(sandbox, T0 + 600, slow)[0] == 0
    assert sandbox.cursor()["backfill_queue"] == []
    user_reads = [c for c in sandbox.sacct_calls() if "-u" in c["argv"]]
    assert len(user_reads) == 1                                      # read once, not 28 times


def test_a_backfill_at_a_month_boundary_does_not_spin_until_the_month_is_settled(sandbox):
    sandbox.write_db("\n".join([HEADER, job_line("900", "bob", "COMPLETED", T0 - 1200, T0 - 900, 300)]) + "\n")
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    assert sandbox.run("backfill", now="2024-05-01T00:00:05", options=opts)[0] == 0
    assert len(sandbox.sacct_calls()) <= 3                          # the month once, the catch-up once
    assert sandbox.run("poll", now="2024-05-01T00:10:00", options=opts)[0] == 0
    assert sandbox.cursor()["coldstart_done"] and sandbox.monthly()["2024-04"]["bob"]["jobs"] == 1


def test_replay_of_a_dump_with_iso_times_refuses_at_its_first_line_saying_how_to_take_one(sandbox, tmp_path):
    from sb.collect.jobs import FIELDS as ORDER
    dump = tmp_path / "iso.txt"
    row = {f: "" for f in ORDER}
    row.update(JobIDRaw="5", User="alice", State="COMPLETED", ElapsedRaw="60", AllocCPUS="1", NNodes="1",
               Submit="2025-01-01T00:00:52", Start="2025-01-01T00:01:52", End="2025-01-01T00:02:52")
    dump.write_text("|".join(ORDER) + "\n" + "|".join(row[f] for f in ORDER) + "\n")
    code, out, err = sandbox.run("replay", str(dump))
    assert code == 1 and err.count("\n") == 1
    assert "Submit is '2025-01-01T00:00:52', not epoch seconds" in err and "SLURM_TIME_FORMAT=%s" in err
    assert not os.path.exists(os.path.join(sandbox.cluster_dir(), "agg", "rollups"))  or sandbox.monthly() == {}


def test_replay_reads_a_dump_in_field_order_as_it_is_and_any_other_order_alike(sandbox, tmp_path):
    """The header is mapped to FIELDS once: a dump in FIELDS order goes to fold as it is, another order is
    rebuilt; both count the same, comment lines are skipped, a last line without its newline still counts."""
    from sb.collect.jobs import FIELDS as ORDER
    rows = []
    for n, user in enumerate(("alice", "bob", "carol", "x/y")):
        rows.append({f: "" for f in ORDER})
        rows[-1].update(JobIDRaw=str(10 + n), User=user, State="COMPLETED", ElapsedRaw="600", AllocCPUS="2",
                        NNodes="1", ReqMem="2G", AllocTRES="cpu=2", Submit=str(T0 - 4000 + n),
                        Start=str(T0 - 3000), End=str(T0 - 2400 + n))
        rows.append(dict(rows[-1], JobIDRaw="{}.batch".format(10 + n), MaxRSS="{}K".format(1024 * (n + 1)),
                         AveRSS="512K", User=""))
    results = []
    for order in (ORDER, ORDER[::-1]):
        dump = tmp_path / "dump-{}.txt".format(len(results))
        text = ["|".join(order)] + ["|".join(row[f] for f in order) for row in rows]
        dump.write_text("\n".join(text[:3] + ["# a comment"] + text[3:]))     # no newline at the end
        sandbox.root = str(tmp_path / "root-{}".format(len(results)))
        code, out, err = sandbox.run("replay", str(dump), now=iso(T0))
        assert code == 0 and "3 new job(s)" in out and "1 malformed" in err, (out, err)
        results.append(sandbox.files())
    assert results[0] == results[1]
    assert results[0]["users/carol.json"]   # the last job, on the line without a newline, counted

"""Tests of tests/fake_sacct.py, run as a real `sacct` executable on PATH."""

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fake_sacct  # noqa: E402

ROOT = os.path.dirname(HERE)
GOLDEN_DIR = os.path.join(ROOT, "fixtures", "golden")

HEADER = "|".join(fake_sacct.DB_FIELDS)

S_EPOCH = 1704844800          # 2024-01-10T00:00:00Z
E_EPOCH = 1704931200          # 2024-01-11T00:00:00Z
S_DAY, E_DAY = "2024-01-10", "2024-01-11"


def row(jobid, raw, user, state, submit, start, end, maxrss="", name="x"):
    values = {
        "JobID": jobid, "JobIDRaw": raw, "User": user, "Account": "acct",
        "Partition": "" if "." in raw else "cpu", "State": state,
        "ElapsedRaw": "60", "AllocCPUS": "1", "NNodes": "1", "ReqMem": "1G",
        "ReqTRES": "" if "." in raw else "cpu=1,mem=1G,node=1",
        "AllocTRES": "cpu=1,mem=1G,node=1", "MaxRSS": maxrss,
        "AveRSS": maxrss, "TotalCPU": "00:00:01", "Submit": str(submit),
        "Start": str(start), "End": str(end), "TRESUsageInMax": "",
        "TRESUsageInAve": "", "JobName": name,
    }
    return "|".join(values.get(f, "") for f in fake_sacct.DB_FIELDS)   # the v2 fields: empty


TINY_LINES = [
    HEADER,
    # 1: ends one second before the window
    row("1", "1", "carol", "COMPLETED", S_EPOCH - 200, S_EPOCH - 100,
        S_EPOCH - 1),
    row("1.batch", "1.batch", "", "COMPLETED", S_EPOCH - 100, S_EPOCH - 100,
        S_EPOCH - 1, "1024"),
    # 2: ends exactly at S
    row("2", "2", "alice", "COMPLETED", S_EPOCH - 200, S_EPOCH - 100,
        S_EPOCH),
    row("2.batch", "2.batch", "", "COMPLETED", S_EPOCH - 100, S_EPOCH - 100,
        S_EPOCH, "2048"),
    "# a comment line inside the DB",
    "",
    row("2.extern", "2.extern", "", "COMPLETED", S_EPOCH - 100,
        S_EPOCH - 100, S_EPOCH, "0"),
    row("2.0", "2.0", "", "FAILED", S_EPOCH - 90, S_EPOCH - 90, S_EPOCH,
        "4096"),
    # 3: ends exactly at E (E given as a date = that day 00:00:00)
    row("3", "3", "Bob", "FAILED", E_EPOCH - 200, E_EPOCH - 100, E_EPOCH),
    row("3.batch", "3.batch", "", "FAILED", E_EPOCH - 100, E_EPOCH - 100,
        E_EPOCH, "10"),
    # 4: ends one second after E (but started inside)
    row("4", "4", "carol", "COMPLETED", E_EPOCH - 200, E_EPOCH - 100,
        E_EPOCH + 1),
    # 5: cancelled with a uid suffix, inside
    row("5", "5", "carol", "CANCELLED by 42", S_EPOCH + 10, S_EPOCH + 20,
        S_EPOCH + 30),
    # 6: running since before the window
    row("6", "6", "carol", "RUNNING", S_EPOCH - 500, S_EPOCH - 400,
        "Unknown"),
    row("6.batch", "6.batch", "", "RUNNING", S_EPOCH - 400, S_EPOCH - 400,
        "Unknown"),
    # 7: pending, submitted after the window
    row("7", "7", "carol", "PENDING", E_EPOCH + 100, "Unknown", "Unknown"),
    # 8: pending, submitted inside the window
    row("8", "8", "dave", "PENDING", S_EPOCH + 100, "Unknown", "Unknown"),
]


@pytest.fixture
def env(tmp_path):
    """Environment with a fake `sacct` first on PATH and a `tiny` cluster."""
    bin_dir = tmp_path / "bin"
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    (db_dir / "tiny.db").write_text("\n".join(TINY_LINES) + "\n")
    fake_sacct.install_fake_sacct(str(bin_dir), str(db_dir))
    e = dict((k, v) for k, v in os.environ.items()
             if not k.startswith("FAKE_SACCT_"))
    e["PATH"] = str(bin_dir) + os.pathsep + e.get("PATH", "")
    e["TZ"] = "UTC"
    e["SLURM_TIME_FORMAT"] = "%s"
    e["FAKE_SACCT_DB_DIR"] = str(db_dir)
    return e


def sacct(env, *args, **extra_env):
    e = dict(env)
    for k, v in extra_env.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return subprocess.run(["sacct"] + list(args), env=e,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)


def query(env, *args, **extra_env):
    """Standard collector-like query; returns stdout lines (checks rc 0)."""
    p = sacct(env, "-a", "-D", "-P", "-n", "--noconvert", "-M", "tiny",
              *args, **extra_env)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p.stdout.splitlines()


def raws(lines):
    return [line.split("|")[0] for line in lines]


# ---- version / helpformat ---------------------------------------------------

def test_version(env):
    p = sacct(env, "--version")
    assert (p.returncode, p.stdout) == (0, "slurm 22.05.8\n")
    assert sacct(env, "-V").stdout == "slurm 22.05.8\n"


def test_helpformat_lists_fields_in_columns(env):
    p = sacct(env, "--helpformat")
    assert p.returncode == 0
    names = p.stdout.split()
    for f in fake_sacct.DB_FIELDS + ["NodeList", "WorkDir", "SubmitLine"]:
        assert f in names
    lines = p.stdout.splitlines()
    assert len(lines) > 1
    for line in lines:
        # names start at columns 0, 20, 40, 60
        for k, name in enumerate(line.split()):
            assert line[20 * k:20 * k + len(name)] == name


def test_drop_fields(env):
    drop = {"FAKE_SACCT_DROP_FIELDS": "TRESUsageInAve,AveRSS"}
    names = sacct(env, "--helpformat", **drop).stdout.split()
    assert "TRESUsageInAve" not in names and "AveRSS" not in names
    assert "MaxRSS" in names
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw,AveRSS", **drop)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == 'sacct: error: Invalid field requested: "AveRSS"\n'
    assert query(env, "-o", "JobIDRaw,MaxRSS", "-X", **drop)[0] == "1|"


# ---- output shape -------------------------------------------------------------

def test_header_and_noheader(env):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw,State,End")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "JobIDRaw|State|End"
    assert lines[1] == "1|COMPLETED|%d" % (S_EPOCH - 1)
    # field names are case-insensitive, the header uses the canonical name;
    # a %width suffix is ignored
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "jobidraw,state%20")
    assert p.stdout.splitlines()[0] == "JobIDRaw|State"
    assert query(env, "-o", "JobIDRaw,State")[0] == "1|COMPLETED"


def test_fields_in_requested_order(env):
    lines = query(env, "-X", "-o", "End,User,JobIDRaw", "-u", "alice")
    assert lines == ["%d|alice|2" % S_EPOCH]


def test_delimiter_forms(env):
    lines = query(env, "-X", "-u", "alice", "--delimiter=:||:",
                  "-o", "JobIDRaw,User,State")
    assert lines == ["2:||:alice:||:COMPLETED"]
    lines = query(env, "-X", "-u", "alice", "--delimiter", "\x1f",
                  "-o", "JobIDRaw,User")
    assert lines == ["2\x1falice"]


def test_parsable_trailing_delimiter(env):
    p = sacct(env, "-a", "-p", "-M", "tiny", "-X", "-u", "alice",
              "-o", "JobIDRaw,User")
    assert p.stdout.splitlines() == ["JobIDRaw|User|", "2|alice|"]


def test_bundled_and_attached_short_options(env):
    p = sacct(env, "-aDPnX", "-Mtiny", "-ualice", "-oJobIDRaw")
    assert (p.returncode, p.stdout) == (0, "2\n")
    p = sacct(env, "-a", "-P", "-n", "-X", "--clusters=tiny", "--user=alice",
              "--format=JobIDRaw")
    assert (p.returncode, p.stdout) == (0, "2\n")


def test_unknown_option_rejected(env):
    p = sacct(env, "-a", "-M", "tiny", "--units=M")
    assert p.returncode == 1 and p.stdout == ""
    assert "unrecognized option" in p.stderr


def test_virtual_fields(env):
    lines = query(env, "-X", "-u", "alice", "-o", "JobIDRaw,Cluster,NodeList")
    assert lines == ["2|tiny|"]


# ---- selection ----------------------------------------------------------------

def test_states_window_inclusive_at_both_ends(env):
    lines = query(env, "-X", "-S", S_DAY, "-E", E_DAY, "-s", "CD,F,CA",
                  "-o", "JobIDRaw")
    # 1 ends at S-1 (out), 2 at S (in), 3 at E (in), 4 at E+1 (out), 5 in
    assert lines == ["2", "3", "5"]


def test_states_window_with_times(env):
    lines = query(env, "-X", "-S", "2024-01-10T00:00:01",
                  "-E", "2024-01-10T23:59:59", "-s", "CD,F,CA",
                  "-o", "JobIDRaw")
    assert lines == ["5"]
    lines = query(env, "-X", "-S", "2024-01-09T23:59:59",
                  "-E", "2024-01-11T00:00:01", "-s", "CD,F,CA",
                  "-o", "JobIDRaw")
    assert lines == ["1", "2", "3", "4", "5"]


def test_state_filter(env):
    win = ("-X", "-S", S_DAY, "-E", E_DAY, "-o", "JobIDRaw")
    assert query(env, "-s", "CD", *win) == ["2"]
    assert query(env, "-s", "completed,Failed", *win) == ["2", "3"]
    assert query(env, "-s", "CANCELLED", *win) == ["5"]
    assert query(env, "--state=TO,OOM,NF,PR,BF,DL,RQ", *win) == []
    # running/pending jobs have no End epoch: never selected with -s
    assert query(env, "-s", "R,PD", *win) == []


def test_invalid_state(env):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-s", "CD,BOGUS")
    assert p.returncode == 1
    assert "Invalid state" in p.stderr


def test_overlap_without_states(env):
    lines = query(env, "-X", "-S", S_DAY, "-E", E_DAY, "-o", "JobIDRaw")
    # 1 ended before S; 7 submitted after E; running 6 and pending 8 overlap
    assert lines == ["2", "3", "4", "5", "6", "8"]


def test_no_bounds_selects_everything(env):
    lines = query(env, "-X", "-o", "JobIDRaw")
    assert lines == ["1", "2", "3", "4", "5", "6", "7", "8"]


def test_steps_follow_their_job(env):
    lines = query(env, "-S", S_DAY, "-E", E_DAY, "-s", "CD,F",
                  "-o", "JobIDRaw,User,State,MaxRSS")
    assert lines == [
        "2|alice|COMPLETED|",
        "2.batch||COMPLETED|2048",
        "2.extern||COMPLETED|0",
        "2.0||FAILED|4096",           # step printed whatever its state
        "3|Bob|FAILED|",
        "3.batch||FAILED|10",
    ]


def test_allocations_only(env):
    lines = query(env, "-X", "-S", S_DAY, "-E", E_DAY, "-s", "CD,F",
                  "-o", "JobIDRaw")
    assert lines == ["2", "3"]
    lines = query(env, "--allocations", "-o", "JobIDRaw")
    assert all("." not in x for x in lines)


def test_user_filter(env):
    assert raws(query(env, "-u", "alice", "-o", "JobIDRaw")) == [
        "2", "2.batch", "2.extern", "2.0"]
    # the DB user "Bob" matches case-insensitively
    assert query(env, "-X", "-u", "BOB,dave", "-o", "JobIDRaw") == ["3", "8"]
    assert query(env, "-X", "-u", "nobody", "-o", "JobIDRaw") == []


def test_comment_and_blank_lines_skipped(env):
    lines = query(env, "-o", "JobIDRaw")
    assert not any(x.startswith("#") or x == "" for x in lines)


def test_missing_cluster_prints_nothing(env):
    p = sacct(env, "-a", "-P", "-M", "nosuch", "-o", "JobIDRaw")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")


def test_default_cluster_is_the_only_db(env):
    p = sacct(env, "-a", "-P", "-n", "-X", "-u", "alice", "-o", "JobIDRaw")
    assert (p.returncode, p.stdout) == (0, "2\n")


# ---- refused fields -------------------------------------------------------------

@pytest.mark.parametrize("field", ["JobName", "jobname%30", "WorkDir",
                                   "SubmitLine"])
def test_free_text_fields_refused(env, field):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw," + field)
    assert p.returncode == 2
    assert p.stdout == ""
    name = field.split("%")[0]
    assert p.stderr == ("sacct: error: fake sacct refuses free-text field %s\n"
                        % name)


def test_unknown_field(env):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw,Bogus")
    assert p.returncode == 1
    assert p.stderr == 'sacct: error: Invalid field requested: "Bogus"\n'


# ---- environment: time format and TZ --------------------------------------------

def test_time_format_env(env):
    args = ("-u", "alice,dave", "-X", "-o", "JobIDRaw,Submit,Start,End")
    assert query(env, *args) == [
        "2|%d|%d|%d" % (S_EPOCH - 200, S_EPOCH - 100, S_EPOCH),
        "8|%d|Unknown|Unknown" % (S_EPOCH + 100)]
    iso = query(env, *args, SLURM_TIME_FORMAT=None)
    assert iso == ["2|2024-01-09T23:56:40|2024-01-09T23:58:20|"
                   "2024-01-10T00:00:00",
                   "8|2024-01-10T00:01:40|Unknown|Unknown"]
    assert query(env, *args, SLURM_TIME_FORMAT="standard") == iso


@pytest.mark.parametrize("tz", [None, "Europe/Berlin", "UTC0"])
def test_tz_must_be_utc(env, tz):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw", TZ=tz)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == "sacct: error: fake sacct wants TZ=UTC\n"


# ---- fault injection ---------------------------------------------------------------

def test_down(env):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw",
              FAKE_SACCT_DOWN="1")
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.splitlines() == [
        "sacct: error: slurm_persist_conn_open_without_init: failed to open "
        "persistent connection to host:localhost:6819: Connection refused",
        "sacct: error: Sending PersistInit msg: Connection refused",
        "sacct: error: Problem talking to the database: Connection refused",
    ]
    # --version needs no database
    assert sacct(env, "--version", FAKE_SACCT_DOWN="1").returncode == 0


def test_max_range(env):
    lim = {"FAKE_SACCT_MAX_RANGE_SEC": "86400"}
    ok = query(env, "-X", "-S", S_DAY, "-E", E_DAY, "-s", "CD", "-o",
               "JobIDRaw", **lim)
    assert ok == ["2"]                      # exactly 86400 s is allowed
    for args in (("-S", S_DAY, "-E", "2024-01-11T00:00:01"),
                 ("-S", S_DAY),             # no end = unbounded
                 ()):
        p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw", *args,
                  **lim)
        assert p.returncode == 1, args
        assert p.stdout == ""
        assert p.stderr == "sacct: error: Too wide of a date range in query\n"


def test_sleep(env):
    t0 = time.time()
    lines = query(env, "-X", "-u", "alice", "-o", "JobIDRaw",
                  FAKE_SACCT_SLEEP="0.6")
    assert time.time() - t0 >= 0.6
    assert lines == ["2"]


def test_fail_after_lines(env):
    p = sacct(env, "-a", "-P", "-M", "tiny", "-o", "JobIDRaw",
              FAKE_SACCT_FAIL_AFTER_LINES="3")
    assert p.returncode == 1
    assert p.stdout == "JobIDRaw\n1\n1.batch\n"     # header counts as a line
    assert p.stderr.startswith("sacct: error: ")


def test_log(env, tmp_path):
    log = str(tmp_path / "calls.jsonl")
    sacct(env, "--version", FAKE_SACCT_LOG=log)
    query(env, "-X", "-o", "JobIDRaw", FAKE_SACCT_LOG=log)
    sacct(env, "-a", "-o", "JobIDRaw", FAKE_SACCT_LOG=log, TZ=None,
          SLURM_TIME_FORMAT=None)
    with open(log) as f:
        records = [json.loads(line) for line in f]
    assert len(records) == 3
    assert records[0]["argv"] == ["--version"]
    assert records[1]["argv"] == ["-a", "-D", "-P", "-n", "--noconvert",
                                  "-M", "tiny", "-X", "-o", "JobIDRaw"]
    assert records[1]["env_tz"] == "UTC" and records[1]["env_fmt"] == "%s"
    assert records[2]["env_tz"] is None and records[2]["env_fmt"] is None
    assert all(isinstance(r["t"], float) for r in records)
    assert records[0]["t"] <= records[1]["t"] <= records[2]["t"]


def test_db_dir_unset(env, tmp_path):
    bare = tmp_path / "bare"
    fake_sacct.install_fake_sacct(str(bare))      # no default DB dir
    e = dict(env, PATH=str(bare) + os.pathsep + env["PATH"])
    p = sacct(e, "-a", "-M", "tiny", FAKE_SACCT_DB_DIR=None)
    assert p.returncode == 1
    assert "FAKE_SACCT_DB_DIR" in p.stderr


def test_env_overrides_wrapper_db_dir(env, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    p = sacct(env, "-a", "-P", "-M", "tiny", FAKE_SACCT_DB_DIR=str(other))
    assert (p.returncode, p.stdout) == (0, "")


# ---- the golden DB through the fake ---------------------------------------------

def test_golden_db_through_fake(env):
    e = dict(env, FAKE_SACCT_DB_DIR=GOLDEN_DIR)
    fields = "JobIDRaw,User,State,Submit,End"
    lines = query(e, "-M", "hammer", "-X", "-S", "2024-01-01",
                  "-E", "2024-04-01", "-s",
                  "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ", "-o", fields)
    raw_ids = raws(lines)
    # 22 job lines in the DB; 172 is RUNNING (End Unknown) -> 21
    assert len(raw_ids) == 21
    assert raw_ids.count("140") == 2 and raw_ids.count("174") == 2
    assert "172" not in raw_ids
    # month boundary: -E 2024-02-01 includes 111 (End 00:00:00) too
    lines = query(e, "-M", "hammer", "-X", "-S", "2024-01-31",
                  "-E", "2024-02-01", "-s", "CD", "-o", "JobIDRaw")
    assert lines == ["110", "111"]
    lines = query(e, "-M", "hammer", "-X", "-S", "2024-01-31",
                  "-E", "2024-01-31T23:59:59", "-s", "CD", "-o", "JobIDRaw")
    assert lines == ["110"]


# ---- streaming / footprint --------------------------------------------------------

def test_streams_large_db_with_small_memory(env, tmp_path):
    db_dir = tmp_path / "bigdb"
    db_dir.mkdir()
    n_jobs = 100000
    base = 1704067200
    with open(str(db_dir / "big.db"), "w") as f:
        f.write(HEADER + "\n")
        for i in range(n_jobs):
            end = base + i * 10
            f.write(row(str(i + 1), str(i + 1), "u%d" % (i % 50), "COMPLETED",
                        end - 100, end - 60, end) + "\n")
            f.write(row("%d.batch" % (i + 1), "%d.batch" % (i + 1), "",
                        "COMPLETED", end - 60, end - 60, end, "1048576")
                    + "\n")
    size_mb = os.path.getsize(str(db_dir / "big.db")) / 1048576.0
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n"
        "n = p.stdout.count(b'\\n')\n"
        "print(p.returncode, n,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    e = dict(env, FAKE_SACCT_DB_DIR=str(db_dir))
    t0 = time.time()
    out = subprocess.check_output(
        [sys.executable, "-c", probe, "sacct", "-a", "-D", "-P", "-n",
         "--noconvert", "-M", "big", "-s", "CD", "-S", "2024-01-01",
         "-E", "2024-12-31", "-o", "JobIDRaw,User,State,End,MaxRSS"],
        env=e, universal_newlines=True)
    elapsed = time.time() - t0
    rc, n_lines, maxrss_kb = [int(x) for x in out.split()]
    assert rc == 0
    assert n_lines == 2 * n_jobs
    # the DB is ~size_mb MB; a streaming fake stays far below that
    assert size_mb > 20
    print("fake: %.1f MB DB, peak RSS %.1f MB, %.2f s" % (size_mb, maxrss_kb / 1024.0, elapsed))
    assert maxrss_kb / 1024.0 < 24, (maxrss_kb, size_mb)
    assert elapsed < 30


# ---- Python 3.6 compatibility (real run, when pyenv's 3.6 is available) ---------

def _python36():
    try:
        root = subprocess.check_output(["pyenv", "root"],
                                       universal_newlines=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    path = os.path.join(root, "versions", "3.6.15", "bin", "python3")
    return path if os.path.exists(path) else None


def test_runs_under_python36(env, tmp_path):
    py36 = _python36()
    if py36 is None:
        pytest.skip("no python 3.6 available")
    bin36 = tmp_path / "bin36"
    fake_sacct.install_fake_sacct(str(bin36), python=py36)
    e = dict(env, PATH=str(bin36) + os.pathsep + env["PATH"])
    assert query(e, "-X", "-S", S_DAY, "-E", E_DAY, "-s", "CD,F,CA",
                 "-o", "JobIDRaw") == ["2", "3", "5"]
    assert sacct(e, "--version").stdout == "slurm 22.05.8\n"
    assert sacct(e, "-a", "-M", "tiny", "-o", "JobName").returncode == 2
    out = subprocess.check_output(
        [py36, os.path.join(HERE, "oracle.py"),
         os.path.join(GOLDEN_DIR, "hammer.db")])
    assert json.loads(out.decode())["2024-03"]["bob"]["jobs"] == 1

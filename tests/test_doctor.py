"""doctor: one line per check, the right verdict for each failure, exit 1 only on FAIL."""
import io
import json
import os
import time

import pytest

from conftest import GOLDEN
from sb import cli

SACCTMGR = '''#!/bin/sh
if [ -n "$FAKE_SACCTMGR_FAIL" ]; then echo "sacctmgr: error: Problem talking to the database" >&2; exit 1; fi
cat <<END
Configuration data as of 2026-11-23T22:00:00
AccountingStorageType  = accounting_storage/slurmdbd
PrivateData            = none

SlurmDBD configuration:
MaxQueryTimeRange      = ${FAKE_SACCTMGR_MAXQUERY:-UNLIMITED}
PrivateData            = ${FAKE_SACCTMGR_PRIVATE:-none}
PurgeJobAfter          = ${FAKE_SACCTMGR_PURGE:-NONE}
END
'''


@pytest.fixture
def doc(sandbox):
    path = os.path.join(os.path.dirname(sandbox.sacct), "sacctmgr")
    open(path, "w").write(SACCTMGR)
    os.chmod(path, 0o755)
    os.makedirs(sandbox.root)
    os.chmod(sandbox.root, 0o2775)           # what the README tells a site to make
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    return sandbox


def doctor(box, *options, root=None):
    argv = ["doctor", "--root", root or box.root, "--cluster", "hammer", "-o", "sacct=" + box.sacct,
            "-o", "squeue=" + box.squeue]
    for option in options:
        argv += ["-o", option]
    out = io.StringIO()
    code = cli.main(argv, out=out, err=io.StringIO())
    lines = out.getvalue().splitlines()
    return code, {line.split()[1]: line for line in lines[:-1]}, lines[-1]


def test_a_healthy_setup_passes_with_one_line_per_check(doc):
    code, checks, summary = doctor(doc)
    assert code == 0, checks
    for name in ("python", "config", "sacct", "squeue", "fields", "accounting", "visibility", "limits", "root",
                 "readable", "locking", "clock"):
        assert checks[name].startswith("OK"), checks[name]
    assert checks["polls"].startswith("WARN") and "backfill" in checks["polls"]       # nothing polled yet
    assert summary.endswith("0 failed, 2 warned") or summary.endswith("0 failed, 1 warned")   # + terminal


def test_a_root_the_group_cannot_write_warns(doc):
    os.chmod(doc.root, 0o755)
    code, checks, summary = doctor(doc)
    assert code == 0 and checks["root"].startswith("WARN") and "chmod g+ws" in checks["root"]


def test_private_data_hiding_other_users_jobs_fails(doc, monkeypatch):
    monkeypatch.setenv("FAKE_SACCTMGR_PRIVATE", "jobs,usage")
    code, checks, summary = doctor(doc)
    assert code == 1 and checks["visibility"].startswith("FAIL")
    assert "only your own jobs" in checks["visibility"] and "adminlevel=Operator" in checks["visibility"]


def test_query_range_and_purge_limits_warn(doc, monkeypatch):
    monkeypatch.setenv("FAKE_SACCTMGR_MAXQUERY", "30-00:00:00")
    monkeypatch.setenv("FAKE_SACCTMGR_PURGE", "12months")
    code, checks, summary = doctor(doc)
    assert code == 0
    text = "\n".join(v for k, v in checks.items() if k == "limits")
    assert "PurgeJobAfter=12months" in text


def test_unreadable_sacctmgr_only_warns(doc, monkeypatch):
    monkeypatch.setenv("FAKE_SACCTMGR_FAIL", "1")
    code, checks, summary = doctor(doc)
    assert code == 0 and checks["limits"].startswith("WARN")


def test_sacct_missing_fails_and_says_what_to_do(doc):
    code, checks, summary = doctor(doc, "sacct=/nonexistent/sacct")
    assert code == 1 and checks["sacct"].startswith("FAIL") and "full path" in checks["sacct"]


def test_slurmdbd_down_fails_with_sacct_s_own_words(doc, monkeypatch):
    monkeypatch.setenv("FAKE_SACCT_DOWN", "1")
    code, checks, summary = doctor(doc)
    assert code == 1 and checks["accounting"].startswith("FAIL") and "Connection refused" in checks["accounting"]


def test_missing_root_and_bad_config_fail(doc, tmp_path):
    code, checks, summary = doctor(doc, root=str(tmp_path / "nowhere"))
    assert code == 1 and checks["root"].startswith("FAIL") and "mkdir -p" in checks["root"]
    code, checks, summary = doctor(doc, "rate_limit_per_min=lots")
    assert code == 1 and checks["config"].startswith("FAIL") and "rate_limit_per_min" in checks["config"]


def test_stale_and_fresh_polls(doc):
    for cluster, age in (("hammer", 60), ("negishi", 4 * 3600)):
        state = os.path.join(doc.root, "clusters", cluster, "state")
        os.makedirs(state)
        json.dump({"last_success": time.time() - age}, open(os.path.join(state, "poll_cursor.json"), "w"))
    out = io.StringIO()
    cli.main(["doctor", "--root", doc.root, "--cluster", "hammer", "-o", "sacct=" + doc.sacct], out=out)
    polls = [l for l in out.getvalue().splitlines() if " polls " in l]
    assert polls[0].startswith("OK") and "hammer: last successful poll 1 min ago" in polls[0]
    assert polls[1].startswith("WARN") and "negishi" in polls[1] and "cron" in polls[1]


def test_a_squeue_answering_for_another_cluster_warns(doc, monkeypatch):
    open(doc.squeue_out, "w").write("alice|R|1|cpu=1|5|\n")
    code, checks, summary = doctor(doc)
    assert checks["live"].startswith("OK") and "1 job line(s)" in checks["live"]
    monkeypatch.setenv("FAKE_SQUEUE_CLUSTER", "negishi")
    code, checks, summary = doctor(doc)
    assert code == 0 and checks["live"].startswith("WARN")
    assert "answered for cluster 'negishi' instead of 'hammer'" in checks["live"]


def test_sacct_failing_fatally_fails_with_its_first_line(doc, tmp_path):
    # issue 15 item 19: this used to read "OK sacct no message"
    broken = str(tmp_path / "sacct-broken")
    with open(broken, "w") as handle:
        handle.write("#!/bin/sh\necho 'sacct: fatal: Could not establish a configuration source' >&2\n"
                     "echo 'second line' >&2\nexit 1\n")
    os.chmod(broken, 0o755)
    code, checks, summary = doctor(doc, "sacct=" + broken)
    assert code == 1 and checks["sacct"].startswith("FAIL"), checks["sacct"]
    assert "exit 1" in checks["sacct"] and "sacct: fatal: Could not establish a configuration source" in checks["sacct"]
    assert "second line" not in checks["sacct"]

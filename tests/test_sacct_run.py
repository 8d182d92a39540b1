"""Running SLURM commands: a timeout kills the whole process group, so a wrapper script (sacct called
without `exec`) whose grandchild never ends cannot hold a poll, or the lock, past sacct_timeout_sec."""
import os
import time

import pytest

from conftest import GOLDEN
from sb.collect import live, sacct

NOW = "2024-04-10T12:00:00"


def wrapper(tmp_path, name, body="sleep 30\nexit 0\n"):
    """A shell script whose child (the 'real' command) never ends within the test."""
    path = str(tmp_path / name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def test_a_sacct_wrapper_whose_grandchild_hangs_times_out_and_commits_nothing(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    real = sandbox.sacct
    hang = wrapper(tmp_path, "sacct-wrapper",
                   'case "$*" in *helpformat*) exec "{}" "$@";; esac\nsleep 30\nexit 0\n'.format(real))
    began = time.time()
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", "backfill_start=2024-01",
                                                           "sacct_timeout_sec=1", "sacct=" + hang))
    assert time.time() - began < 10
    assert code == 1 and "timed out after 1 s" in err
    assert sandbox.monthly() == {}


def test_run_captured_kills_the_group_on_timeout(tmp_path):
    began = time.time()
    with pytest.raises(sacct.subprocess.TimeoutExpired):
        sacct.run_captured([wrapper(tmp_path, "cmd")], 1)
    assert time.time() - began < 10
    assert sacct.run_command([wrapper(tmp_path, "cmd2")], timeout=1)[0] == 124


def test_a_squeue_wrapper_whose_grandchild_hangs_only_warns(tmp_path):
    began = time.time()
    with pytest.raises(live.LiveError, match="timed out after 1 s"):
        live.snapshot(wrapper(tmp_path, "squeue"), "hammer", timeout=1)
    assert time.time() - began < 10


def test_a_hanging_helpformat_is_bounded_by_sacct_timeout_sec_too(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    began = time.time()
    code, out, err = sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", "sacct_timeout_sec=1",
                                                           "sacct=" + wrapper(tmp_path, "sacct-hangs")))
    assert time.time() - began < 10
    assert code == 1 and "sacct --helpformat timed out after 1 s" in err

"""Crash safety: SIGKILL at many points of a backfill, then run again → exactly the uninterrupted result.

Deterministic kills use SLURM_SB_CRASH_AT=N (the process SIGKILLs itself at its Nth file operation:
each staged temp file, the journal, each rename); random kills come from outside at random instants.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, Sandbox, oracle_monthly
from test_collector import assert_close_to_oracle, generated_db

pytestmark = pytest.mark.slow

NOW = "2024-04-05T00:00:00"


class CrashRig:
    def __init__(self, tmp_path, monkeypatch):
        self.box = Sandbox(tmp_path, monkeypatch)
        db = str(tmp_path / "hammer.db")
        generated_db(db, seed=3, jobs=600, malformed_rate=0.03)  # enough bad lines to log in every month
        self.box.use_db(db)
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "src"),
                                                                os.path.join(REPO, "vendor")]))

    def argv(self, root):
        return [sys.executable, "-m", "sb", "backfill", "--root", root, "--cluster", "hammer", "--now", NOW,
                "-o", "sacct=" + self.box.sacct, "-o", "squeue=true", "-o", "rate_limit_per_min=0", "-o", "backfill_start=2024-01"]

    def run(self, root, crash_at=None):
        env = dict(self.env)
        if crash_at:
            env["SLURM_SB_CRASH_AT"] = str(crash_at)
        return subprocess.run(self.argv(root), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode

    def result(self, root):
        """Everything that decides future counts: agg/ (asof masked) and the seen identities."""
        self.box.root = root
        found = self.box.files()
        found.update(("seen/" + k, v) for k, v in self.box.files("state/seen").items())
        log = os.path.join(root, "clusters", "hammer", "state", "problems.log")
        found["problems.log"] = re.sub(rb"^\S+Z ", b"", open(log, "rb").read(), flags=re.M)  # exactly once
        return found


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    rig = CrashRig(tmp_path_factory.mktemp("crash"), mp)
    reference_root = str(rig.box.tmp / "reference")
    assert rig.run(reference_root) == 0
    rig.reference = rig.result(reference_root)
    rig.points = count_crash_points(rig)
    yield rig
    mp.undo()


def count_crash_points(rig, prefix="probe"):
    """Largest N at which the run still kills itself (binary search on the crash point)."""
    low, high = 1, 4096
    assert rig.run(str(rig.box.tmp / (prefix + "-high")), crash_at=high) == 0, "more crash points than expected"
    while high - low > 1:
        middle = (low + high) // 2
        code = rig.run(str(rig.box.tmp / "{}-{}".format(prefix, middle)), crash_at=middle)
        if code == -signal.SIGKILL:
            low = middle
        else:
            high = middle
    return low


def test_the_reference_run_matches_the_oracle(rig):
    rig.box.root = str(rig.box.tmp / "reference")
    assert_close_to_oracle(rig.box.monthly(), oracle_monthly(rig.box.sacct_dump("2024-01-01", "2024-04-05")))
    assert len([k for k in rig.reference if k.startswith("seen/")]) == 3   # Jan–Mar 2024
    assert len(re.findall(rb"(?m)^window 2024-0[123]:", rig.reference["problems.log"])) == 3
    assert rig.points >= 150   # sanity: the run really has that many file operations to die in (176 when written)


def test_kill_at_sixty_file_operations_then_rerun_gives_the_same_bytes(rig):
    chosen = sorted(set(range(1, rig.points + 1, max(1, rig.points // 50))) |
                    set(random.Random(1).sample(range(1, rig.points + 1), 10)))
    assert len(chosen) >= 50
    for n in chosen:
        root = str(rig.box.tmp / "killed-{}".format(n))
        assert rig.run(root, crash_at=n) == -signal.SIGKILL, n
        assert rig.run(root) == 0, n
        assert rig.result(root) == rig.reference, "differs after a kill at file operation {}".format(n)


def test_a_crash_during_recovery_is_recovered_too(rig):
    rng = random.Random(2)
    for trial in range(8):
        first, second = rng.randrange(1, rig.points), rng.randrange(1, 60)
        root = str(rig.box.tmp / "double-{}".format(trial))
        assert rig.run(root, crash_at=first) == -signal.SIGKILL
        rig.run(root, crash_at=second)
        assert rig.run(root) == 0
        assert rig.result(root) == rig.reference, (first, second)


def test_sigkill_at_random_instants(rig):
    start = time.time()
    rig.run(str(rig.box.tmp / "timing"))
    duration = time.time() - start
    rng = random.Random(3)
    for trial in range(12):
        root = str(rig.box.tmp / "random-{}".format(trial))
        proc = subprocess.Popen(rig.argv(root), env=rig.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert rig.run(root) == 0
        assert rig.result(root) == rig.reference, "differs after a kill at {:.2f} s".format(trial)


def without_already_counted(result):
    """The problem log names how many jobs a window found already counted; after a crash between the
    pieces of a window, the re-read finds the committed pieces' jobs counted, so that number alone differs."""
    return dict(result, **{"problems.log": re.sub(rb"\d+ already_counted, ", b"", result["problems.log"])})


def test_kill_between_and_inside_the_pieces_of_a_long_window(rig):
    """Windows committed in pieces of 40 jobs (SLURM_SB_PIECE_JOBS): every kill, then a re-run, gives the
    files of the uninterrupted run without pieces."""
    pieced = dict(rig.env, SLURM_SB_PIECE_JOBS="40")
    plain, rig.env = rig.env, pieced
    try:
        whole = str(rig.box.tmp / "pieced")
        assert rig.run(whole) == 0
        assert rig.result(whole) == rig.reference                      # pieces leave the same files
        points = count_crash_points(rig, "pieced-probe")
        assert points > rig.points + 80                                # …through many more commits (+100)
        for n in sorted(set(random.Random(4).sample(range(1, points + 1), 24))):
            root = str(rig.box.tmp / "pieced-killed-{}".format(n))
            assert rig.run(root, crash_at=n) == -signal.SIGKILL, n
            assert rig.run(root) == 0, n
            assert without_already_counted(rig.result(root)) == without_already_counted(rig.reference), n
    finally:
        rig.env = plain

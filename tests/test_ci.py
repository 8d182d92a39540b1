"""CI cannot pass without the real parts: under CI=true a testbed that cannot install or start fails."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import HERE, REPO, in_ci, require_or_skip


def test_require_or_skip_skips_outside_ci_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser"):
        require_or_skip("no browser")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no browser .CI=true: this test must run"):
        require_or_skip("no browser")
    assert in_ci({"CI": "True"}) and in_ci({"CI": "1"}) and not in_ci({"CI": "false"}) and not in_ci({})


def test_real_slurm_tests_fail_under_ci_when_the_testbed_cannot_start(tmp_path):
    env = dict(os.environ, CI="true", SB_TESTBED="0", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow",
                           os.path.join(HERE, "test_testbed.py"), "-k", "backfill_and_poll"],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert "CI=true: this test must run" in done.stdout
    # the reason: SB_TESTBED=0, or (Python 3.6, in the interpreter matrix) the testbed tool itself, which
    # needs 3.7+, cannot even be imported; either way the test fails rather than skips
    assert "SB_TESTBED=0" in done.stdout or "not importable" in done.stdout
    assert " skipped" not in done.stdout.splitlines()[-1]


def fake_ci_checkout(tmp_path):
    """.ci/run in a scratch checkout whose python3 logs its arguments and fails the testbed install."""
    os.makedirs(str(tmp_path / ".ci"))
    os.makedirs(str(tmp_path / "tools"))
    os.makedirs(str(tmp_path / "bin"))
    shutil.copy(os.path.join(REPO, ".ci", "run"), str(tmp_path / ".ci" / "run"))
    log = str(tmp_path / "calls.log")
    with open(str(tmp_path / "tools" / "test_matrix.sh"), "w") as handle:
        handle.write('echo matrix >> "{}"\n'.format(log))
    with open(str(tmp_path / "bin" / "python3"), "w") as handle:
        handle.write('#!/bin/sh\necho "$*" >> "{}"\ncase "$*" in *testbed.py\\ install*) exit 1;; esac\nexit 0\n'
                     .format(log))
    os.chmod(str(tmp_path / "bin" / "python3"), 0o755)
    return log


@pytest.mark.parametrize("ci", [True, False])
def test_ci_run_stops_when_the_testbed_install_fails(tmp_path, ci):
    log = fake_ci_checkout(tmp_path)
    env = dict(os.environ, PATH=str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    done = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    calls = open(log).read()
    assert "tests/testbed/testbed.py install" in calls
    assert done.returncode != 0 and "-m pytest" not in calls and "matrix" not in calls   # with CI=true or not


def test_browser_tests_fail_under_ci_when_chromium_is_missing(tmp_path):
    """No chromium on PATH: outside CI the browser tests skip, under CI=true they fail."""
    os.makedirs(str(tmp_path / "bin"))
    os.symlink(sys.executable, str(tmp_path / "bin" / "python3"))
    for ci in ("true", "false"):
        env = dict(os.environ, CI=ci, PATH=str(tmp_path / "bin"), PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               os.path.join(HERE, "test_report_browser.py"), "-k", "screenshots"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300)
        last = done.stdout.splitlines()[-1]
        if ci == "true":
            assert done.returncode != 0 and "CI=true: this test must run" in done.stdout, done.stdout
            assert " skipped" not in last
        else:
            assert done.returncode == 0 and "2 skipped" in last, done.stdout

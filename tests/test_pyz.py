"""The built slurm-sb.pyz, end to end, under every interpreter this machine has among 3.6/3.9/3.11/3.13,
and with a HOME that is read-only or full (shiv must still find somewhere to unpack, or say what to set)."""
import glob
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import GOLDEN, REPO, assert_same_totals, load_json
from sb.store import counters
import fake_sacct
from sb import cli

pytestmark = pytest.mark.slow
EXPECTED = json.load(open(os.path.join(GOLDEN, "hammer.expected.json")))
PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def interpreter(version):
    found = sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", version + ".*", "bin", "python3")))
    return found[-1] if found else shutil.which("python" + version)


@pytest.fixture
def world(tmp_path):
    """A HOME, a TMPDIR, a fake sacct serving the golden cluster, and a shared root."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    db = tmp_path / "db"
    db.mkdir()
    shutil.copy(os.path.join(GOLDEN, "hammer.db"), str(db / "hammer.db"))
    sacct = fake_sacct.install_fake_sacct(str(tmp_path / "bin"), str(db))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_SB_", "SHIV_", "PYTHON"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), FAKE_SACCT_DB_DIR=str(db))
    return {"home": str(home), "tmp": str(tmp), "root": str(tmp_path / "root"), "sacct": sacct, "env": env}


def collector_args(world, command):
    return [command, "--root", world["root"], "--cluster", "hammer", "--now", "2024-04-10T12:00:00",
            "-o", "sacct=" + world["sacct"], "-o", "squeue=true", "-o", "rate_limit_per_min=0",
            "-o", "backfill_start=2024-01"]


def run(python, pyz, args, env):
    return subprocess.run([python, pyz] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)


def monthly(root):
    folder = os.path.join(root, "clusters", "hammer", "agg", "rollups", "monthly")
    result = {}
    for name in sorted(os.listdir(folder)):
        doc = load_json(os.path.join(folder, name))
        sums = {}
        for row in doc["users"]:     # rows per (user, account, partition): summed per user
            counters.add_into(sums.setdefault(row["username"], counters.zero()), row["counters"])
        result[doc["month"]] = {user: {k: v for k, v in counters.to_metrics(total).items() if k in counters.V1_METRICS}
                                for user, total in sums.items()}
    return result


def agg_bytes(root):
    base = os.path.join(root, "clusters", "hammer", "agg")
    return {os.path.relpath(os.path.join(d, n), base): open(os.path.join(d, n), "rb").read()
            for d, _, names in os.walk(base) for n in names if "leaderboards" not in d}


@pytest.mark.parametrize("version", ["3.6", "3.9", "3.11", "3.13"])
def test_pyz_runs_the_collector_end_to_end(pyz, world, version):
    python = interpreter(version)
    if not python:
        pytest.skip("Python {} is not installed on this machine: not tested here".format(version))
    env = world["env"]
    done = run(python, pyz, ["--version"], env)
    assert done.returncode == 0 and "Python {}.".format(version) in done.stdout, done.stderr
    done = run(python, pyz, collector_args(world, "backfill"), env)
    assert done.returncode == 0, done.stderr
    assert_same_totals(monthly(world["root"]), EXPECTED["monthly"])
    first = agg_bytes(world["root"])
    for command in ("poll", "rebuild"):
        done = run(python, pyz, collector_args(world, command), env)
        assert done.returncode == 0, done.stderr
    assert agg_bytes(world["root"]).keys() == first.keys()
    done = run(python, pyz, ["demo"], env)
    assert done.returncode == 0 and "SLURM Scoreboard" in done.stdout and " 1-20 of 48 " in done.stdout, done.stderr
    assert glob.glob(os.path.join(world["home"], ".shiv", "slurm-sb.pyz_*", "site-packages", "sb"))


def in_namespace(world, mounts, command):
    """Run `command` (argv) in a private mount namespace after the given shell mount commands."""
    script = "set -e; {}; exec {}".format("; ".join(mounts), " ".join(shlex.quote(a) for a in command))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], env=world["env"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)


def namespaces_work():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], stderr=subprocess.DEVNULL)
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not namespaces_work(), reason="needs root and mount namespaces (unshare -m) "
                                                                 "to make HOME read-only or full for real")


@needs_mounts
def test_read_only_home_falls_back_to_a_private_tmp_cache(pyz, world):
    home = world["home"]
    done = in_namespace(world, ["mount -t tmpfs -o ro,size=1m tmpfs {}".format(home)],
                        [sys.executable, pyz] + collector_args(world, "backfill"))
    assert done.returncode == 0, done.stderr
    assert_same_totals(monthly(world["root"]), EXPECTED["monthly"])
    cache = os.path.join(world["tmp"], "slurm-sb-{}".format(os.getuid()))
    assert glob.glob(os.path.join(cache, "slurm-sb.pyz_*", "site-packages", "sb"))
    assert os.stat(cache).st_mode & 0o777 == 0o700


@needs_mounts
def test_full_home_falls_back_and_leaves_no_half_unpacked_files(pyz, world):
    home = world["home"]
    fill = "mount -t tmpfs -o size=256k tmpfs {0}; dd if=/dev/zero of={0}/filler bs=4k count=1000 2>/dev/null " \
           "|| true; ls -A {0} > {0}.listing".format(home)
    done = in_namespace(world, [fill, "mkdir -p {}/.shiv || true".format(home)],
                        [sys.executable, pyz] + collector_args(world, "backfill"))
    assert done.returncode == 0, done.stderr
    assert_same_totals(monthly(world["root"]), EXPECTED["monthly"])


@needs_mounts
def test_nowhere_writable_runs_from_the_zip(pyz, world):
    shared_tmp_cache = "/tmp/slurm-sb-{}".format(os.getuid())
    mounts = ["mount -t tmpfs -o ro tmpfs {}".format(world["home"]),
              "mount -t tmpfs -o ro tmpfs {}".format(world["tmp"]),
              "mkdir -p -m 700 {0}; mount -t tmpfs -o ro tmpfs {0}".format(shared_tmp_cache)]
    done = in_namespace(world, mounts, [sys.executable, pyz] + collector_args(world, "backfill"))
    assert done.returncode == 0, done.stderr
    assert_same_totals(monthly(world["root"]), EXPECTED["monthly"])


@needs_mounts
def test_unwritable_shiv_root_says_what_to_set(pyz, world):
    world["env"]["SHIV_ROOT"] = os.path.join(world["home"], "cache")
    done = in_namespace(world, ["mount -t tmpfs -o ro tmpfs {}".format(world["home"])],
                        [sys.executable, pyz, "--version"])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1
    assert lines[0].startswith("slurm-sb: cannot unpack into SHIV_ROOT") and "set SHIV_ROOT" in lines[0]


def test_the_c_locale_on_python_3_6_never_crashes_on_non_ascii(pyz, world, tmp_path):
    python = interpreter("3.6")
    if not python:
        pytest.skip("Python 3.6 is not installed on this machine: not tested here")
    env = dict(world["env"], LC_ALL="C", LANG="C")
    strange = str(tmp_path / "d\u00e9j\u00e0-vu.txt")
    done = run(python, pyz, ["replay", "--root", world["root"], "--cluster", "hammer", strange], env)
    assert done.returncode == 1 and "No such file" in done.stderr and "Traceback" not in done.stderr
    shutil.copy(os.path.join(GOLDEN, "hammer.db"), strange)       # the summary names the file on stdout
    done = run(python, pyz, ["replay", "--root", world["root"], "--cluster", "hammer", "-o", "squeue=true",
                             strange], env)
    assert done.returncode == 0 and "new job(s) from" in done.stdout and "Traceback" not in done.stderr, done.stderr
    done = run(python, pyz, ["demo"], env)
    assert done.returncode == 0 and done.stdout.startswith("+== * SLURM Scoreboard * =="), done.stderr  # ASCII


def test_a_link_named_slurm_sb_tui_opens_the_board(pyz, world, demo_root):
    """The textual tip says `slurm-sb-tui --backend textual`: a link of that name must be the board."""
    link = os.path.join(world["tmp"], "slurm-sb-tui")
    os.symlink(pyz, link)
    done = subprocess.run([link, "--root", demo_root, "--json", "--limit", "3"], env=world["env"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["cluster"], doc["window"], [r["rank"] for r in doc["rows"]]) == ("ALL", "alltime", [1, 2, 3])


@pytest.mark.parametrize("version", ["3.6", "3.9", "3.11", "3.13"])
def test_pyz_writes_the_same_report_on_every_python(pyz, world, demo_root, version, tmp_path):
    """uPlot and the page's assets are read from inside the pyz; every interpreter writes the same page data
    as the source tree does."""
    python = interpreter(version)
    if not python:
        pytest.skip("Python {} is not installed on this machine: not tested here".format(version))
    when = "2026-11-01T00:00:00"
    out = str(tmp_path / version)
    done = run(python, pyz, ["report", "--out", out, "--root", demo_root, "--now", when], world["env"])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert cli.main(["report", "--out", str(tmp_path / "src"), "--root", demo_root, "--now", when],
                    out=io.StringIO(), err=io.StringIO()) == 0
    built = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    mine = open(str(tmp_path / "src" / "index.html"), encoding="utf-8").read()
    data = [json.loads(re.search(r'id="sb-data">(.*?)</script>', page, re.S).group(1)) for page in (built, mine)]
    for part in ("boards", "charts", "players", "skills"):     # the header's ages move with the clock
        assert data[0][part] == data[1][part], part
    uplot = open(os.path.join(REPO, "vendor", "uplot", "uPlot.iife.min.js"), encoding="utf-8").read()
    assert uplot.replace("</script", "<\\/script") in built
    assert os.stat(os.path.join(out, "index.html")).st_mode & 0o777 == 0o644

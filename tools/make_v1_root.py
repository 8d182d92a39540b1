#!/usr/bin/env python3
"""Make tests/fixtures/v1-root: a shared root written by the first release (format 1), for the upgrade tests.

Builds that release's pyz from git (commit V1_COMMIT, the last before collector v2), and runs its `backfill`
of fixtures/golden/hammer.db through the test suite's fake sacct, as a site's cron would have. Usage:

    python3 tools/make_v1_root.py            # rewrites tests/fixtures/v1-root

Needs git, shiv (pip install shiv==1.0.8) and this checkout's history; run it only to remake the fixture.
"""
import os
import shutil
import subprocess
import sys
import tempfile

V1_COMMIT = "1285967"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "fixtures", "v1-root")
NOW = "2024-04-10T12:00:00"      # what tests/test_collector.py calls NOW


def main():
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import fake_sacct
    with tempfile.TemporaryDirectory() as scratch:
        source = os.path.join(scratch, "v1")
        os.makedirs(source)
        archive = subprocess.run(["git", "-C", REPO, "archive", V1_COMMIT], check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", source], input=archive, check=True)
        pyz = os.path.join(scratch, "v1.pyz")
        subprocess.run([sys.executable, os.path.join(source, "build.py"), "--output", pyz], check=True,
                       stdout=subprocess.DEVNULL, cwd=source)
        db_dir = os.path.join(scratch, "db")
        os.makedirs(db_dir)
        shutil.copy(os.path.join(REPO, "fixtures", "golden", "hammer.db"), os.path.join(db_dir, "hammer.db"))
        sacct = fake_sacct.install_fake_sacct(os.path.join(scratch, "bin"), db_dir)
        shutil.rmtree(OUT, ignore_errors=True)
        env = dict(os.environ, FAKE_SACCT_DB_DIR=db_dir, FAKE_SACCT_LOG=os.devnull, HOME=scratch)
        subprocess.run([sys.executable, pyz, "backfill", "--root", OUT, "--cluster", "hammer", "--now", NOW,
                        "-o", "sacct=" + sacct, "-o", "squeue=true", "-o", "rate_limit_per_min=0",
                        "-o", "backfill_start=2024-01"], check=True, env=env)
    for folder, _, names in os.walk(OUT):          # nothing of this machine's: no lock, no live snapshot
        for name in names:
            if name in ("lock.pid", "live.json"):
                os.unlink(os.path.join(folder, name))
    print("wrote", OUT)


if __name__ == "__main__":
    main()

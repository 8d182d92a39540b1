"""Can this user see everyone's jobs? sacctmgr's PrivateData, else the users of the last week's accounting."""
import json
import os

from sb.collect import discover, sacct as sacct_mod
from sb.collect.errors import CollectorError
from sb.store.files import atomic_write
from sb.timeutil import DAY

RECHECK_SEC = 86400


def check_visibility(engine):
    """Refuse to publish a one-user board: with PrivateData=jobs, a plain user's `sacct -a` silently
    lists only their own jobs. Asked of sacctmgr at most once a day (the verdict is kept in state/)."""
    if engine.dry_run or os.getuid() == 0:  # root (and SlurmUser) always see every job
        return
    now = engine.clock()
    known = engine.data.json(engine.paths.visibility, {})
    if now - known.get("checked", 0) < RECHECK_SEC and known.get("ok"):
        return
    hidden = sacct_mod.hides_jobs(sacct_mod.dbd_config(engine.s.sacct))
    others = accounting_users(engine, 7) - {sacct_mod.whoami()} if hidden else True
    atomic_write(engine.paths.visibility, json.dumps({"checked": now, "ok": bool(others)}).encode())
    if not others:
        raise CollectorError("PrivateData=jobs: sacct -a shows you only your own jobs, so the board would "
                             "rank only you; nothing was collected. Run `slurm-sb doctor` for what to do")


def accounting_users(engine, days):
    """Usernames of the jobs that ran here in the last `days` days (one rate-limited sacct call)."""
    now = int(engine.clock())
    argv = sacct_mod.users_command(engine.s.sacct, engine.s.cluster, now - days * DAY, now)
    engine.show(argv)
    if engine.dry_run:
        return set()
    engine.pacer.before_call()
    with sacct_mod.stream(argv, engine.s.sacct_timeout_sec) as lines:
        return discover.accounting_users(lines, ())

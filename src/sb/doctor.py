"""doctor: can this user collect and show scores here? One line per check: OK, WARN or FAIL, and what to do."""
import fcntl
import glob
import json
import locale
import os
import shutil
import sys
import tempfile
import time
from typing import NamedTuple

from sb import config
from sb.collect import live
from sb.collect.discover import accounting_users
from sb.collect.sacct import SacctError, choose_fields, dbd_config, first_error, hides_jobs, run_command, users_command, whoami
from sb.store import manifest as manifest_file
from sb.store.seal import unseal

SKEW_WARN_SEC = 120


class Check(NamedTuple):
    status: str     # OK, WARN or FAIL
    name: str
    message: str
    fix: str = ""


def run(settings_or_error, out):
    """Print every check; exit status 0 unless one FAILed."""
    checks = list(all_checks(settings_or_error))
    for check in checks:
        line = "{:<4}  {:<11} {}".format(check.status, check.name, check.message)
        print(line + (" - " + check.fix if check.fix else ""), file=out)
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    print("{} check(s): {} failed, {} warned".format(len(checks), failed, warned), file=out)
    return 1 if failed else 0


def all_checks(settings):
    yield python_check()
    yield terminal_check()
    if isinstance(settings, Exception):
        yield Check("FAIL", "config", str(settings), "fix the file or variable it names")
        return
    yield Check("OK", "config", "settings parse (cluster {}, root {})".format(settings.cluster or "unset", settings.root))
    yield from sacct_checks(settings)
    yield from root_checks(settings)


# ---- Python and terminal -------------------------------------------------------------------------

def python_check():
    version = "{}.{}.{}".format(*sys.version_info[:3])
    if sys.version_info < (3, 6):
        return Check("FAIL", "python", "Python {} is older than 3.6".format(version), "use a newer python3")
    return Check("OK", "python", "Python {} ({})".format(version, sys.executable))


def terminal_check():
    try:
        import curses
    except ImportError:
        return Check("WARN", "terminal", "this Python has no curses module",
                     "the board will print as a plain table; use a python3 built with curses")
    if not sys.stdout.isatty():
        return Check("WARN", "terminal", "standard output is not a terminal",
                     "fine for cron; run doctor in a terminal to check the board's display")
    try:
        curses.setupterm()
    except curses.error:
        return Check("WARN", "terminal", "TERM={!r} is unknown to curses".format(os.environ.get("TERM")),
                     "export TERM=xterm-256color (the board falls back to a plain table)")
    encoding = locale.getpreferredencoding(False).lower().replace("-", "")
    if encoding != "utf8":
        return Check("WARN", "terminal", "locale encoding is {} (borders will be plain ASCII)".format(encoding),
                     "export LANG=C.UTF-8 for the heavy box borders")
    return Check("OK", "terminal", "TERM={}, curses works, UTF-8".format(os.environ.get("TERM")))


# ---- SLURM ---------------------------------------------------------------------------------------

def sacct_checks(settings):
    sacct = settings.sacct
    version = run_command([sacct, "--version"])
    if version is None:
        yield Check("FAIL", "sacct", "{!r} not found on PATH".format(sacct),
                    "load the SLURM module or set 'sacct' in the config to its full path")
        return
    if version[0] != 0:     # e.g. "sacct: fatal: Could not establish a configuration source"
        said = [line.strip() for line in (version[2] + "\n" + version[1]).splitlines() if line.strip()]
        yield Check("FAIL", "sacct", "`{} --version` failed (exit {}): {}".format(
            sacct, version[0], said[0][:300] if said else "no message"),
            "fix what it says (slurm.conf, SLURM_CONF, the SLURM module) before polling")
        return
    yield Check("OK", "sacct", "{} ({})".format(first_error(version[1]), shutil.which(sacct) or sacct))
    squeue = run_command([settings.squeue, "--version"])
    yield (Check("OK", "squeue", first_error(squeue[1])) if squeue else
           Check("WARN", "squeue", "{!r} not found".format(settings.squeue), "live activity (live.json) stays empty"))
    yield fields_check(sacct)
    if not settings.cluster:
        yield Check("FAIL", "cluster", "no cluster configured", "set 'cluster:' in the config or pass --cluster")
        return
    if squeue:
        yield live_check(settings)
    now = int(time.time())
    listed = run_command(users_command(sacct, settings.cluster, now - 7 * 86400, now))
    if listed[0] != 0:
        yield Check("FAIL", "accounting", "sacct cannot read accounting: {}".format(first_error(listed[2])),
                    "is slurmdbd up? try again later, or ask the admins")
        return
    users = accounting_users(listed[1].splitlines(), ())
    yield Check("OK", "accounting", "{} job(s) by {} user(s) ended on {} in the last 7 days".format(
        len(listed[1].splitlines()), len(users), settings.cluster))
    dbd = dbd_config(sacct)
    yield visibility_check(dbd, users)
    yield from limit_checks(dbd)


def live_check(settings):
    """squeue -M <cluster> answers for that cluster (a wrong SLURM_CONF or wrapper would fill live.json
    with another cluster's queue)."""
    try:
        lines = live.snapshot(settings.squeue, settings.cluster, timeout=30)
    except live.LiveError as err:
        return Check("WARN", "live", str(err), "live.json is not updated until this is fixed")
    return Check("OK", "live", "squeue -M {} answers for {} ({} job line(s))".format(
        settings.cluster, settings.cluster, len(lines)))


def fields_check(sacct):
    listed = run_command([sacct, "--helpformat"])
    if not listed or listed[0] != 0:
        return Check("FAIL", "fields", "sacct --helpformat failed", "check the sacct installation")
    try:
        fields, tres_memory = choose_fields(set(listed[1].split()))
    except SacctError as err:
        return Check("FAIL", "fields", str(err), "this SLURM is too old for the scoreboard")
    if tres_memory:
        return Check("WARN", "fields", "no MaxRSS/AveRSS; memory comes from TRESUsageInMax/Ave")
    return Check("OK", "fields", "sacct knows all {} fields the collector asks for".format(len(fields)))


def visibility_check(dbd, users):
    me = whoami()
    hides = hides_jobs(dbd)
    others = users - {me}
    if hides and not others:
        return Check("FAIL", "visibility", "PrivateData=jobs: sacct -a shows only your own jobs, so the scores "
                     "would cover only you", "run the collector as an account with AdminLevel=Operator "
                     "(sacctmgr modify user NAME set adminlevel=Operator) or ask the admins")
    if hides:
        return Check("OK", "visibility", "PrivateData=jobs is set, but you may see {} other user(s)".format(len(others)))
    if dbd is None and not others:
        return Check("WARN", "visibility", "sacctmgr is unreadable and only your own jobs were seen",
                     "if others ran jobs this week, PrivateData=jobs may be hiding them")
    return Check("OK", "visibility", "other users' jobs are visible ({} other user(s) this week)".format(len(others)))


def limit_checks(dbd):
    if dbd is None:
        yield Check("WARN", "limits", "sacctmgr show configuration is unreadable: MaxQueryTimeRange and purge "
                    "settings unknown", "the collector splits windows slurmdbd refuses, so this is only a warning")
        return
    widest = dbd.get("MaxQueryTimeRange", "UNLIMITED")
    if widest.upper() not in ("UNLIMITED", "NONE", ""):
        yield Check("WARN", "limits", "MaxQueryTimeRange={}: wider windows are refused".format(widest),
                    "the collector splits them by itself (more, smaller sacct calls)")
    purge = dbd.get("PurgeJobAfter", "NONE")
    if purge.upper() not in ("NONE", ""):
        yield Check("WARN", "limits", "PurgeJobAfter={}: older jobs are gone from accounting".format(purge),
                    "set backfill_start no earlier than that; purged months cannot be backfilled")
    if widest.upper() in ("UNLIMITED", "NONE", "") and purge.upper() in ("NONE", ""):
        yield Check("OK", "limits", "no MaxQueryTimeRange and no job purge")


# ---- the shared root -----------------------------------------------------------------------------

def root_checks(settings):
    root = settings.root
    if not os.path.isdir(root):
        yield Check("FAIL", "root", "{} does not exist".format(root),
                    "mkdir -p {0} && chmod 2775 {0} (and chgrp it to the maintainers' group)".format(root))
        return
    probe = None
    try:
        handle, probe = tempfile.mkstemp(prefix=".doctor-", dir=root)
        os.close(handle)
    except OSError as err:
        yield Check("FAIL", "root", "cannot write in {} ({})".format(root, err.strerror),
                    "ask its owner for group write access (chmod g+w), or use another --root")
        return
    try:
        mode = os.stat(root).st_mode
        yield (Check("OK", "root", "{} is writable, and by its group too".format(root)) if mode & 0o020 else
               Check("WARN", "root", "{} is not group-writable".format(root),
                     "chmod g+ws {} so other maintainers' collectors can write".format(root)))
        yield readable_check(root)
        yield lock_check(probe)
        yield clock_check(probe)
    finally:
        os.unlink(probe)
    yield from poll_age_checks(settings)
    yield from health_checks(settings)


def health_checks(settings):
    """Per cluster: files quarantined as *.bad, months owed a re-pull, months kept from a short re-read,
    and a watermark in the future (state/manifest.json, state/poll_cursor.json)."""
    for path in sorted(glob.glob(os.path.join(settings.root, "clusters", "*", "state", "manifest.json"))):
        cluster = path.split(os.sep)[-3]
        try:
            with open(path, "rb") as handle:
                doc = json.loads(unseal(handle.read(), path).decode())
            owed, kept, bad = sorted(doc["repull"]), doc["kept"], doc["quarantined"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            yield Check("WARN", "storage", "{}: {} is unreadable ({})".format(cluster, path, err),
                        "the next poll quarantines and rebuilds it")
            continue
        if bad:
            yield Check("WARN", "storage", "{}: {} damaged file(s) kept as .bad: {}".format(
                cluster, len(bad), ", ".join(bad[:5])), "their data was rebuilt or is being re-pulled; "
                        "delete the .bad copies once you no longer need them")
        if owed:
            yield Check("WARN", "storage", "{}: month(s) waiting to be re-pulled from sacct: {}".format(
                cluster, ", ".join(owed)), "each poll re-pulls one; `slurm-sb backfill` does them all now")
        for month, why in sorted(kept.items()):
            yield Check("WARN", "storage", "{}: {}: {}".format(cluster, month, why),
                        "nothing to do: accounting no longer has that month's jobs")
        gap = manifest_file.efficiency_gap(doc)
        if gap:
            yield Check("WARN", "efficiency", "{}: {}; months counted by the first release without CPU/memory "
                        "efficiency, accounts and partitions: {}".format(cluster, gap, ", ".join(doc["lacking"])),
                        "each poll re-reads one; `slurm-sb backfill --upgrade` does them all (months past "
                        "slurmdbd's retention keep their old figures)")
        if not (bad or owed or kept):
            yield Check("OK", "storage", "{}: no damaged files, nothing owed".format(cluster))
    for path in sorted(glob.glob(os.path.join(settings.root, "clusters", "*", "state", "poll_cursor.json"))):
        try:
            with open(path) as handle:
                watermark = json.load(handle).get("watermark") or 0
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(watermark, (int, float)) and watermark > time.time() + 3600:
            yield Check("WARN", "clock", "{}: the collection watermark is in the future ({})".format(
                path.split(os.sep)[-3], time.strftime("%Y-%m-%d %H:%M", time.gmtime(watermark))),
                        "a run had its clock ahead; the next poll pulls it back")


def readable_check(root):
    hidden = [p for p in glob.glob(os.path.join(root, "clusters", "*", "agg", "**", "*.json"), recursive=True)[:500]
              if not os.stat(p).st_mode & 0o004]
    if hidden:
        return Check("WARN", "readable", "{} stored file(s) are not world-readable, e.g. {}".format(
            len(hidden), hidden[0]), "chmod -R o+r {}/clusters (the collector writes 0664 from now on)".format(root))
    return Check("OK", "readable", "stored files are world-readable")


def lock_check(path):
    try:
        with open(path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as err:
        return Check("FAIL", "locking", "flock does not work on this filesystem ({})".format(err.strerror),
                     "put the root on a filesystem with working locks (NFSv4, Lustre with flock, GPFS)")
    return Check("OK", "locking", "flock works on this filesystem")


def clock_check(path):
    skew = os.stat(path).st_mtime - time.time()
    if abs(skew) > SKEW_WARN_SEC:
        return Check("WARN", "clock", "the file server's clock is {:+.0f} s from this host's".format(skew),
                     "ask the admins to sync time (chrony/ntp); data ages will look off")
    return Check("OK", "clock", "file times agree with this host's clock ({:+.1f} s)".format(skew))


def poll_age_checks(settings):
    cursors = sorted(glob.glob(os.path.join(settings.root, "clusters", "*", "state", "poll_cursor.json")))
    if not cursors:
        yield Check("WARN", "polls", "no cluster has been polled into {} yet".format(settings.root),
                    "run `slurm-sb backfill --cluster NAME` once, then `poll` from cron")
    for path in cursors:
        cluster = path.split(os.sep)[-3]
        try:
            with open(path) as handle:
                last = json.load(handle).get("last_success")
        except (OSError, ValueError):
            last = None
        if not last:
            yield Check("WARN", "polls", "{}: never polled successfully".format(cluster),
                        "check that cluster's cron job and its mail")
            continue
        age = time.time() - last
        text = "{}: last successful poll {} ago".format(cluster, _age(age))
        yield (Check("WARN", "polls", text, "stale (over 3 poll intervals): is its cron job running?")
               if age > 3 * settings.poll_interval_sec else Check("OK", "polls", text))


def _age(seconds):
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return "{:.0f} {}".format(seconds / size, unit)
    return "{:.0f} s".format(max(seconds, 0))


def settings_or_error(load):
    try:
        return load()
    except config.ConfigError as err:
        return err

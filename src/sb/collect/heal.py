"""Self-healing storage (spec §16): a damaged or missing file → kept as *.bad, then rebuilt from the rest
(monthly rollups from daily, user totals from monthly, boards from both) or, for primary data (a daily
rollup, a seen file), re-pulled from sacct in replace mode, one month per poll tick.

A re-pull that returns fewer jobs than the month had counted (slurmdbd purged them: past its retention)
never replaces the month: its last good data is kept and the month is marked in the manifest.
"""
import json
import os

from sb.store import manifest as manifest_file
from sb.store.counters import add_into, zero
from sb.store.data import ClusterData, Damaged, listdir
from sb.store.files import Transaction, atomic_write, read_bytes
from sb.store.rollups import (by_user, daily_json, is_first_format, merge_days, month_totals, monthly_json, unpack,
                              user_json)
from sb.store.seal import MARK, unseal
from sb.timeutil import DAY, month_end, month_start

EVERYONE = "*"     # Intake's recount of every user (no username can be "*")


def check(engine, verify=False, seen_upgraded=False):
    """At the start of a run: load (or make) the manifest, and repair what is missing; once a UTC day (or
    with `verify`) check every file's checksum too."""
    paths = engine.paths
    manifest = manifest_file.load(paths)
    if manifest is None:
        manifest = manifest_file.from_disk(paths)
        if not engine.dry_run:
            atomic_write(paths.manifest, manifest_file.to_json(manifest))
    engine.manifest = manifest
    if engine.dry_run:
        return
    if manifest.get("format") != manifest_file.FORMAT:
        queue_upgrade(engine)
    if seen_upgraded:   # seen files were renamed by Submit month (collect.seen.upgrade): list them anew
        manifest["seen"] = sorted(manifest_file.seen_names(paths))
        atomic_write(paths.manifest, manifest_file.to_json(manifest))
    today = int(engine.clock()) // DAY
    if verify or manifest.get("verified_day") != today:
        for damage in unreadable(paths):
            quarantine(engine, damage)
        engine.manifest = manifest = manifest_file.load(paths)
        manifest["verified_day"] = today
        atomic_write(paths.manifest, manifest_file.to_json(manifest))
    for month in manifest["months"]:
        if not os.path.exists(paths.daily(month)):
            _owe_repull(engine, month, "{} is missing".format(paths.daily(month)))
        elif not os.path.exists(paths.monthly(month)):
            rebuild_monthly(engine, month)
    for name in manifest["seen"]:
        if not _seen_exists(paths, name):
            for month in months_of_seen(manifest, name):
                _owe_repull(engine, month, "{} is missing".format(paths.seen(name)))
    if manifest.get("users_behind"):
        engine.warn("{}: a run stopped before it wrote its user totals (between the pieces of a long window, "
                    "or during a backfill); they are rebuilt from the rollups".format(engine.s.cluster))
        manifest.pop("users_behind")
        rebuild_users(engine)
    elif manifest_file.users_digest(manifest_file.user_names(paths)) != manifest["users"]:
        engine.warn("{}: user files differ from the manifest (one was removed or added by hand); rebuilding "
                    "them from the monthly rollups".format(engine.s.cluster))
        rebuild_users(engine)


def queue_upgrade(engine):
    """A root written by the first release: owe a re-pull (replace mode, one month per poll tick) of every
    month it counted, and mark them as lacking efficiency until then; rewrite the user files in today's
    format. A re-read that finds fewer jobs keeps the old numbers (replace_month): the month stays lacking."""
    manifest, paths = engine.manifest, engine.paths
    lacking = set(manifest.get("lacking") or ())
    for month in manifest["months"]:
        data = read_bytes(paths.daily(month))
        if data is not None and is_first_format(data):
            lacking.add(month)
            _owe(manifest, paths, month, manifest_file.UPGRADE)
    manifest["lacking"], manifest["format"] = sorted(lacking), manifest_file.FORMAT
    if lacking:
        engine.say("{}: {} month(s) counted by the first release are re-read for efficiency figures, one per "
                   "poll (`backfill --upgrade`: all now)".format(engine.s.cluster, len(lacking)))
        rebuild_users(engine)
    atomic_write(paths.manifest, manifest_file.to_json(manifest))


def unreadable(paths):
    """Once a UTC day (and at every `rebuild`): every rollup, user and board file whose checksum fails, so
    damage in a file no run has read lately is found too. Only the bytes are summed (no JSON parse)."""
    damaged = []
    KEYS = {paths.daily_dir: "days", paths.monthly_dir: "users", paths.users_dir: "clusters",
            paths.boards_dir: "table"}
    for folder in KEYS:
        for name in sorted(listdir(folder)):
            if name.endswith(".json") and not name.startswith("."):
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    data = handle.read()
                try:
                    data = unpack(data, path)       # a rollup is gzip'd JSON
                    if unseal(data, path) is data and data.rfind(MARK) < 0:   # written before checksums
                        _legacy_shape(data, KEYS[folder])
                except ValueError as err:
                    damaged.append(Damaged(path, err))
    return damaged


def _legacy_shape(data, key):
    """A file without a checksum must at least be the JSON object its kind is (it may predate checksums)."""
    try:
        doc = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError("not JSON ({})".format(err))
    if not isinstance(doc, dict) or key not in doc:
        raise ValueError("not a file of this kind (no {!r})".format(key))


def quarantine(engine, damage):
    """Keep a damaged file as *.bad (never deleted) and owe what it held: a rebuild or a re-pull."""
    paths, path = engine.paths, damage.path
    kept = _keep_bad(path)
    engine.warn("{}: {}; kept as {} and {}".format(engine.s.cluster, damage, os.path.basename(kept),
                                                   _remedy(paths, path)))
    # The run's own manifest when it has one: later transactions of this run stage it, so a copy read
    # from disk and updated here alone would be overwritten by them.
    manifest = engine.manifest if path != paths.manifest else None
    if manifest is None:
        manifest = _stored_or_made(paths) if path != paths.manifest else manifest_file.from_disk(paths)
    engine.manifest = manifest
    manifest["quarantined"] = sorted(set(manifest["quarantined"]) | {os.path.relpath(kept, paths.base)})
    folder, name = os.path.split(path)
    if folder == paths.daily_dir:
        _owe(manifest, paths, name.split(".", 1)[0], str(damage))
    elif folder == paths.seen_dir:
        for month in months_of_seen(manifest, manifest_file.seen_month(name)):
            _owe(manifest, paths, month, str(damage))
    atomic_write(paths.manifest, manifest_file.to_json(manifest))


def _stored_or_made(paths):
    try:
        return manifest_file.load(paths) or manifest_file.from_disk(paths)
    except Damaged:
        return manifest_file.from_disk(paths)


def _remedy(paths, path):
    folder = os.path.dirname(path)
    if folder in (paths.daily_dir, paths.seen_dir):
        return "its month will be re-pulled from sacct"
    if folder in (paths.monthly_dir, paths.users_dir, paths.boards_dir):
        return "it is rebuilt from the other rollups"
    if path == paths.cursor:
        return "collection restarts from backfill_start (counted jobs are recognised and skipped)"
    return "it is made anew"


def _keep_bad(path):
    target, n = path + ".bad", 1
    while os.path.exists(target):
        n += 1
        target = "{}.bad{}".format(path, n)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        pass
    return target


def _owe_repull(engine, month, why):
    manifest = engine.manifest
    if month not in manifest["repull"]:
        _owe(manifest, engine.paths, month, why)
        atomic_write(engine.paths.manifest, manifest_file.to_json(manifest))
        engine.warn("{}: {}; month {} will be re-pulled from sacct".format(engine.s.cluster, why, month))


def _owe(manifest, paths, month, why):
    """Queue a month's re-pull with the job count it held (from its monthly rollup): the least a re-read
    must find to replace it."""
    if month in manifest["repull"]:
        return
    try:
        jobs = sum(c[0] for c in ClusterData(paths).monthly_totals(month).values())
    except Damaged:
        jobs = 0
    manifest["repull"][month] = {"jobs": jobs, "why": why}


def months_of_seen(manifest, name):
    """The months to re-pull when seen file `name` (a Submit month) is lost: its jobs ended in it or later."""
    return sorted({name} | {month for month in manifest["months"] if month >= name})


def _seen_exists(paths, name):
    return os.path.exists(paths.seen(name))


def repull_next(engine):
    """Re-read one month owed (every user's jobs) and let it replace what is stored (commit.replace): the
    oldest damaged month first, then first-release months newest first (the 30-day and 365-day boards
    get their efficiency figures first, and "efficiency since" holds throughout the upgrade)."""
    owed = engine.manifest["repull"] if engine.manifest else {}
    if not owed:
        return False
    damaged = [m for m, entry in owed.items() if entry.get("why") != manifest_file.UPGRADE]
    month = min(damaged) if damaged else max(owed)
    start, end = max(month_start(month), engine.backfill_epoch), min(month_end(month), engine.settled())
    if start > end:   # nothing of it can be read (before backfill_start): nothing to replace
        owed.pop(month)
        atomic_write(engine.paths.manifest, manifest_file.to_json(engine.manifest))
        return True
    engine.window(start, end, None, label="re-pull of " + month, recount=EVERYONE)
    return True


def replace_month(engine, tx, month, batch_days, fresh_jobs):
    """Stage the re-pulled month (commit.commit with recount=EVERYONE): its daily and monthly rollups become
    the re-read, and every user file is recomputed from the monthly rollups. A re-read with fewer jobs than
    the month held keeps the stored data and marks the month."""
    manifest, paths, now = engine.manifest, engine.paths, engine.clock()
    owed = manifest["repull"].pop(month, None)
    stored = engine.data.monthly_totals(month) if os.path.exists(paths.monthly(month)) else {}
    # What the month held when it was found damaged: counts since may include jobs its lost seen file no
    # longer recognised, which this re-pull replaces.
    held = owed["jobs"] if owed else sum(c[0] for c in stored.values())
    if fresh_jobs < held:
        manifest["kept"][month] = ("re-read found {} of {} jobs (past slurmdbd's retention?): the last good data "
                                   "is kept".format(fresh_jobs, held))
        if month in manifest.get("lacking", ()):
            manifest["kept"][month] += ", without efficiency figures"
        engine.warn("{}: {}: {}".format(engine.s.cluster, month, manifest["kept"][month]))
        if not os.path.exists(paths.daily(month)) and stored:
            manifest["kept"][month] += "; its days are lost, so 30d/365d lack it"
        return
    manifest["kept"].pop(month, None)
    if month in manifest.get("lacking", ()):
        manifest["lacking"].remove(month)
    daily = merge_days({}, batch_days)
    totals = month_totals(daily)
    tx.write(paths.daily(month), daily_json(month, daily))
    tx.write(paths.monthly(month), monthly_json(month, totals, now))
    _stage_users(engine, tx, {month: totals})


def rebuild_monthly(engine, month):
    """A monthly rollup is the sum of its daily one."""
    paths = engine.paths
    tx = Transaction(paths)
    tx.write(paths.monthly(month), monthly_json(month, month_totals(engine.data.daily(month)), engine.clock()))
    tx.commit()
    engine.warn("{}: {} was missing; rebuilt from the daily rollup".format(engine.s.cluster, paths.monthly(month)))


def rebuild_users(engine, tx=None):
    """Every user file from the monthly rollups (they are their sums)."""
    own = tx is None
    tx = tx or Transaction(engine.paths)
    count = _stage_users(engine, tx, {})
    if own:
        stage_manifest(engine, tx)
        tx.commit()
    return count


def _stage_users(engine, tx, override):
    """Stage every user file as the sum of the monthly rollups (`override`: {month: totals} not yet on disk)."""
    data, paths = engine.data, engine.paths
    totals = {}
    for month in sorted(set(data.months_on_disk()) | set(override)):
        month_rows = override[month] if month in override else data.monthly_totals(month)
        for key, counters in month_rows.items():
            add_into(totals.setdefault(key, zero()), counters)
    totals = by_user(totals)
    now = engine.clock()
    for user in sorted(totals):
        tx.write(paths.user(user), user_json(user, engine.s.cluster, totals[user], now))
    for user in set(data.users_on_disk()) - set(totals):
        tx.delete(paths.user(user))
    tx.delete(paths.boards_stamp)
    return len(totals)


def stage_manifest(engine, tx):
    """Every transaction that writes rollups, seen or user files stages the manifest with them."""
    if engine.manifest is not None:
        manifest_file.stage(tx, engine.paths, engine.manifest)

"""`backfill`: the cold start to its end, then the catch-up; or chosen months re-read (one user's, optionally)."""
from sb.collect import boards, commit, heal, windows
from sb.collect.purge import purge_opted_out
from sb.collect.visibility import check_visibility
from sb.timeutil import month_of_epoch, next_month, normalize_month


def backfill(engine, since=None, until=None, user=None, upgrade=False):
    """The cold start to its end (or the chosen months re-read), then the catch-up; months owed a re-read
    (damaged, or counted by the first release) come first. `upgrade`: only those."""
    engine.prepare_fields()
    engine.held_users = {}   # each user file is written once, after the last window, not once a month
    check_visibility(engine)
    while engine.retrying(lambda: heal.repull_next(engine)):
        pass
    if not upgrade:
        if since or until or user:
            _rescan(engine, since, until, user)
        else:
            _cold_start(engine)
        engine.retrying(lambda: windows.catch_up(engine))
    commit.write_held_users(engine)   # before the purge, which removes opted-out users' files
    purge_opted_out(engine)
    boards.write_boards(engine)
    engine.summary()
    return 0


def _cold_start(engine):
    while not engine.cursor["coldstart_done"]:
        engine.retrying(lambda: windows.coldstart_month(engine))
        if engine.cursor.get("coldstart_pos"):   # the month's end is not settled yet: a later poll reads it
            break
        if not engine.cursor["coldstart_done"] and engine.pacer.enabled and not engine.dry_run:
            engine.sleep(engine.s.backfill_sleep_sec)


def _rescan(engine, since, until, user):
    """Re-read chosen months (dedupe makes it safe); with a user, only their jobs, recounting the
    months where their data was purged at an opt-out."""
    now = int(engine.clock())
    purged = set(engine.data.purged().get(user, ())) if user else set()
    month = max(normalize_month(since or engine.s.backfill_start), month_of_epoch(engine.backfill_epoch))
    last = min(normalize_month(until) if until else month_of_epoch(now), month_of_epoch(now))
    while month <= last:
        engine.retrying(lambda: windows.user_month(engine, month, user, purged, None))
        month = next_month(month)
        if month <= last and engine.pacer.enabled and not engine.dry_run:
            engine.sleep(engine.s.backfill_sleep_sec)

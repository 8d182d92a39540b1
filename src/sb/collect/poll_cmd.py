"""`poll`: one collection tick for cron: the next cold-start month, the catch-up, the discover queue, then the
opt-out purge, the leaderboards and the live snapshot."""
import time

from sb.collect import boards, heal, live, sacct as sacct_mod, windows
from sb.collect.pacing import Deferred
from sb.collect.purge import HOMES_CHECKED, purge_opted_out
from sb.collect.visibility import check_visibility
from sb.store.files import atomic_write
from sb.timeutil import next_month


def poll(engine):
    wait = engine.pacer.backoff_wait()
    if wait > 0:
        engine.warn("{}: sacct failed {} time(s) in a row; backing off, next try in {:.0f} s".format(
            engine.s.cluster, engine.pacer.state["failures"], wait))
        return 0
    status = 0
    try:
        engine.prepare_fields()
        check_visibility(engine)
        if not engine.cursor["coldstart_done"]:
            windows.coldstart_month(engine)
        heal.repull_next(engine)        # one damaged month per tick, like a cold-start month
        windows.catch_up(engine)
        work_queue(engine)
    except Deferred as deferred:
        engine.say("{}: {}; the rest waits for the next tick".format(engine.s.cluster, deferred))
    except sacct_mod.SacctError as err:
        status = engine.sacct_failed(err)
    check_homes(engine)
    boards.write_boards(engine)
    write_live(engine, quiet=status != 0)
    engine.summary()
    return status


def check_homes(engine):
    """The opt-out purge. Once per UTC day it also checks the home of every user with stored data, so an
    opt-out file takes effect for users with no new jobs too; the other ticks check only this tick's users
    (a home lookup can trigger an automount)."""
    day = time.strftime("%Y-%m-%d", time.gmtime(engine.clock()))
    daily = not engine.dry_run and engine.pacer.daily_due(HOMES_CHECKED, day)
    purge_opted_out(engine, all_homes=daily)
    if daily:
        engine.pacer.daily_done(HOMES_CHECKED, day)


def work_queue(engine):
    """Targeted backfills queued by discover: one user-month per commit, until the rate limit says stop."""
    queue = engine.cursor.get("backfill_queue") or []
    while queue:
        entry = queue[0]
        month, user = entry["next_month"], entry["user"]

        def advance(cursor, piece_end, end, month=month, entry=entry):
            if piece_end >= end:
                entry["next_month"] = next_month(month)
                if entry["next_month"] > entry["until"]:
                    cursor["backfill_queue"].remove(entry)

        if engine.optout(user):  # opted out since discover queued them: nothing of theirs is read
            queue.remove(entry)
            engine.commit_cursor_only(None, 0)
            continue
        windows.user_month(engine, month, user, set(engine.data.purged().get(user, ())), advance)


def write_live(engine, quiet=False):
    """One squeue snapshot → live.json (never rolled up); a failure only warns. `quiet` after a failed sacct
    call: squeue -M needs slurmdbd too, and an outage is said in one line (the sacct one; -v shows both)."""
    if engine.dry_run:
        return
    try:
        users = live.summarize(live.snapshot(engine.s.squeue, engine.s.cluster), engine.optout)
    except live.LiveError as err:
        if not quiet or engine.verbose:
            engine.warn("{}: live activity not updated: {}".format(engine.s.cluster, err))
        return
    atomic_write(engine.paths.live, live.live_json(engine.s.cluster, users, engine.clock()))

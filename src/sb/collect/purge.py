"""Opt-outs found after counting → their data removed from every rollup and user file, the months remembered."""
import json
import os

from sb.collect import heal
from sb.names import is_valid_user
from sb.store.files import PRIVATE, Transaction
from sb.store.rollups import daily_json, month_totals, monthly_json, remove_user

HOMES_CHECKED = "homes_checked"   # the key in state/pacing.json: the UTC day every home was last checked


def purge_opted_out(engine, all_homes=False):
    """Remove from every file the users who opted out after being counted, remembering which
    months held their data (state/purged.json) so an opt-in can recount exactly those."""
    if engine.dry_run:
        return
    data, paths, optout = engine.data, engine.paths, engine.optout
    months = data.months_on_disk()
    if all_homes:
        known = set(data.users_on_disk()).union(*({key[0] for key in data.monthly_totals(m)} for m in months))
        gone = {u for u in known if optout(u)}
    else:   # only users already known to have opted out: a tick lists no directory for them
        gone = {u for u in optout.listed | optout.found() if is_valid_user(u) and os.path.lexists(paths.user(u))}
    if not gone:
        return
    tx, now, held = Transaction(paths), engine.clock(), {user: set() for user in gone}
    for month in months:
        daily = data.daily(month)
        present = gone & {key[0] for rows in daily.values() for key in rows}
        for user in present:
            remove_user(daily, month, user)
            held[user].add(month)
        if present:
            tx.write(paths.daily(month), daily_json(month, daily))
            tx.write(paths.monthly(month), monthly_json(month, month_totals(daily), now))
    for user in gone:
        tx.delete(paths.user(user))
    tx.delete(paths.boards_stamp)
    stage_purged(engine, tx, held)
    heal.stage_manifest(engine, tx)
    tx.commit()
    engine.say("{}: removed {} opted-out user(s) from the stored data".format(engine.s.cluster, len(gone)))


def stage_purged(engine, tx, held, done=None):
    """Add months to (or, with `done`, remove that month from) users' purged-month records."""
    purged = engine.data.purged()
    for user, months in held.items():
        months = set(purged.get(user, ())) | months
        months.discard(done)
        if months:
            purged[user] = sorted(months)
        else:
            purged.pop(user, None)
    tx.write(engine.paths.purged, (json.dumps(purged, indent=1, sort_keys=True) + "\n").encode(), PRIVATE)

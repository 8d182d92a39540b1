"""`rebuild`: monthly rollups → every user file, then the leaderboards (and opt-outs found in any home)."""
from sb.collect import boards
from sb.collect.purge import purge_opted_out
from sb.store.counters import add_into, zero
from sb.store.files import Transaction
from sb.store.rollups import user_json


def rebuild(engine):
    """Recompute every user file from the monthly rollups, then the leaderboards."""
    purge_opted_out(engine, all_homes=True)
    data, paths = engine.data, engine.paths
    totals = {}
    months = data.months_on_disk()
    for month in months:
        for user, counters in data.monthly_totals(month).items():
            add_into(totals.setdefault(user, zero()), counters)
    now = engine.clock()
    tx = Transaction(paths)
    for user in sorted(totals):
        tx.write(paths.user(user), user_json(user, engine.s.cluster, totals[user], now))
    for user in set(data.users_on_disk()) - set(totals):
        tx.delete(paths.user(user))
    tx.delete(paths.boards_stamp)
    tx.commit()
    boards.write_boards(engine)
    engine.say("{}: rebuilt {} user file(s) and the leaderboards from {} monthly rollup(s)".format(
        engine.s.cluster, len(totals), len(months)))
    return 0

"""`rebuild`: monthly rollups → every user file, then the leaderboards (and opt-outs found in any home)."""
from sb.collect import boards, heal
from sb.collect.purge import purge_opted_out


def rebuild(engine):
    """Recompute every user file from the monthly rollups, then the leaderboards."""
    heal.check(engine, verify=True)     # every file's checksum, not only today's first run
    purge_opted_out(engine, all_homes=True)
    count = heal.rebuild_users(engine)
    boards.write_boards(engine)
    engine.say("{}: rebuilt {} user file(s) and the leaderboards from {} monthly rollup(s)".format(
        engine.s.cluster, count, len(engine.data.months_on_disk())))
    return 0

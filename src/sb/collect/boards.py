"""Rollups and user totals → the three leaderboard files and their 7-day movement file, rebuilt only when
something they show may have changed."""
import json

from sb.collect import heal
from sb.store.data import Damaged, read_json_or_none
from sb.store.files import atomic_write, read_bytes
from sb.store.counters import add_into, zero
from sb.store.layout import MOVE_DAYS, WINDOWS
from sb.store.leaderboards import board_json, moves_json
from sb.store.rollups import FORMAT, flatten, window_totals
from sb.store.seal import unseal
from sb.timeutil import DAY


def _intact(engine, path):
    """The board file is there and its checksum holds; a damaged one is quarantined (kept as .bad)."""
    data = read_bytes(path)
    if data is None:
        return False
    try:
        unseal(data, path)
        return True
    except ValueError as err:
        heal.quarantine(engine, Damaged(path, err))
        return False


def write_boards(engine):
    """Rebuild the three leaderboards, unless nothing they show can have changed: no commit has counted
    or removed a job since they were written (every such commit deletes state/boards.json in its
    transaction), the UTC day is the same (the rolling windows move at midnight), and so are the
    settings they depend on. Then a tick with nothing new reads no user file and no rollup."""
    if engine.dry_run:
        return
    s, paths, data = engine.s, engine.paths, engine.data
    now = engine.clock()
    today = int(now) // DAY
    stamp = {"cluster": s.cluster, "day": today, "min_jobs": s.min_jobs, "board_top": s.board_top, "format": FORMAT}
    files = [paths.board(filename) for _, filename, _ in WINDOWS] + [paths.moves]
    if read_json_or_none(paths.boards_stamp) == stamp and all(_intact(engine, path) for path in files):
        return
    for window, filename, days in WINDOWS:
        totals = (flatten({user: data.user(user) for user in data.users_on_disk()}) if days is None else
                  window_totals(data.daily, today - days + 1, today))
        atomic_write(paths.board(filename), board_json(window, s.cluster, s.min_jobs, totals, now, s.board_top))
    atomic_write(paths.moves, moves_json(s.cluster, today, now, week_deltas(data.daily, today)))
    atomic_write(paths.boards_stamp, (json.dumps(stamp, sort_keys=True) + "\n").encode())


def week_deltas(daily, today):
    """{window: {key: counters}}: each window now less itself at the end of day today - MOVE_DAYS, i.e. the
    last MOVE_DAYS days, less (for a rolling window) the days that dropped out of it meanwhile."""
    entered = window_totals(daily, today - MOVE_DAYS + 1, today)
    deltas = {}
    for window, _, days in WINDOWS:
        delta = {key: list(row) for key, row in entered.items()}
        if days is not None:
            left = window_totals(daily, today - days - MOVE_DAYS + 1, today - days)
            for key, row in left.items():
                add_into(delta.setdefault(key, zero()), [-value for value in row])
        deltas[window] = delta
    return deltas


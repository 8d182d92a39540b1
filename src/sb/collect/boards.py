"""Rollups and user totals → the three leaderboard files, rebuilt only when something they show may have changed."""
import json
import os

from sb.store.data import read_json_or_none
from sb.store.files import atomic_write
from sb.store.layout import WINDOWS
from sb.store.leaderboards import board_json
from sb.store.rollups import window_totals
from sb.timeutil import DAY


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
    stamp = {"cluster": s.cluster, "day": today, "min_jobs": s.min_jobs, "board_top": s.board_top}
    if read_json_or_none(paths.boards_stamp) == stamp and all(
            os.path.exists(paths.board(filename)) for _, filename, _ in WINDOWS):
        return
    for window, filename, days in WINDOWS:
        totals = ({user: data.user(user) for user in data.users_on_disk()} if days is None else
                  window_totals(data.daily, today - days + 1, today))
        atomic_write(paths.board(filename), board_json(window, s.cluster, s.min_jobs, totals, now, s.board_top))
    atomic_write(paths.boards_stamp, (json.dumps(stamp, sort_keys=True) + "\n").encode())

"""Which windows to read: the next cold-start month, the catch-up since the watermark, one (user-)month."""
from sb.timeutil import month_end, month_start, next_month


def coldstart_month(engine):
    """Read what is left of the next cold-start month (in pieces if slurmdbd wants them narrower)."""
    cursor = engine.cursor
    month = cursor["next_month"]
    start = max(month_start(month), engine.backfill_epoch, cursor.get("coldstart_pos") or 0)
    end = min(month_end(month), engine.settled())

    def advance(cursor, piece_end):
        if piece_end < month_end(month):
            cursor["coldstart_pos"] = piece_end + 1
            return
        following = next_month(month)
        cursor.update(last_complete_month=month, coldstart_pos=None,
                      coldstart_done=following >= cursor["coldstart_until"])
        cursor["next_month"] = None if cursor["coldstart_done"] else following

    engine.window(start, end, advance, label=month)


def catch_up(engine):
    """Everything that ended since the watermark, re-reading late_window_sec before it."""
    start = max(engine.cursor["watermark"] - engine.s.late_window_sec, engine.backfill_epoch)
    engine.window(start, engine.settled(), lambda cursor, piece_end: cursor.update(watermark=piece_end + 1))


def user_month(engine, month, user, purged, advance):
    """Re-read one month (only `user`'s jobs if given), recounting the user where their data was purged.
    `advance(cursor, piece_end, end)` learns the end this read asked for: a settled time taken after the
    sacct call is later, so comparing with a fresh one would never finish the current month."""
    start, end = max(month_start(month), engine.backfill_epoch), min(month_end(month), engine.settled())
    if advance:
        asked, advance = advance, lambda cursor, piece_end: asked(cursor, piece_end, end)
    if start <= end:
        recount = user if user and month in purged else None
        engine.window(start, end, advance, user, label=month + (" for " + user if user else ""), recount=recount)
    elif advance:
        engine.commit_cursor_only(advance, end)

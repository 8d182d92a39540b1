"""`discover`: users in home directories and recent accounting → targeted backfills queued for poll."""
import json

from sb.collect import cursor as cursor_file, discover
from sb.collect.visibility import accounting_users
from sb.store.files import PRIVATE, Transaction
from sb.timeutil import month_of_epoch


def discover_users(engine):
    """Queue a targeted backfill for users seen for the first time without data (and purged users
    who opted back in); `poll` works the queue off within the rate limit."""
    s, data, paths = engine.s, engine.data, engine.paths
    now = int(engine.clock())
    exclude = set(s.exclude_users)
    candidates = (discover.home_users(s.home_roots, s.uid_min, s.uid_max, exclude)
                  | (accounting_users(engine, s.discover_days) - exclude))
    known = set(data.json(paths.known_users, []))
    purged = data.purged()
    queued = {entry["user"] for entry in engine.cursor.get("backfill_queue", [])}
    wanted = discover.to_queue(candidates, known, set(data.users_on_disk()), purged, engine.optout)
    first = month_of_epoch(engine.backfill_epoch)
    queue = engine.cursor.setdefault("backfill_queue", [])
    for user, since in sorted(wanted.items()):
        if user not in queued:
            queue.append({"user": user, "next_month": since or first, "until": month_of_epoch(now)})
    new_known = sorted(known | {u for u in candidates if not engine.optout(u)})
    engine.say("{}: {} user(s) found ({} new); {} targeted backfill(s) queued for poll".format(
        s.cluster, len(candidates), len(set(candidates) - known), len(queue) - len(queued)))
    if engine.dry_run:
        return 0
    tx = Transaction(paths)
    tx.write(paths.known_users, (json.dumps(new_known, indent=0) + "\n").encode(), PRIVATE)  # names: not world-readable
    tx.write(paths.cursor, cursor_file.to_json(engine.cursor))
    tx.commit()
    return 0

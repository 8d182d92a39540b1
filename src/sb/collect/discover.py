"""Finding users: home directories and recent accounting → the names worth a targeted backfill."""
import os
import pwd

from sb.names import BadField, normalize_user


def home_users(roots, uid_min, uid_max, exclude):
    """Usernames that have a directory under one of `roots` and a passwd entry with uid_min ≤ uid < uid_max.

    The passwd database is asked, not the directory (stat'ing every home would trigger automounts).
    """
    found = set()
    for root in roots:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            try:
                user = normalize_user(name)
                entry = pwd.getpwnam(name)
            except (BadField, KeyError):
                continue
            if uid_min <= entry.pw_uid < uid_max and user not in exclude:
                found.add(user)
    return found


def accounting_users(lines, exclude):
    """Usernames in `sacct -o User` lines (step lines and odd names skipped)."""
    found = set()
    for line in lines:
        try:
            user = normalize_user(line.strip())
        except BadField:
            continue
        if user not in exclude:
            found.add(user)
    return found


def to_queue(candidates, known, with_data, purged, opted_out):
    """Which users need a targeted backfill, and from which month (None: from backfill_start).

    New users with no stored data; and users whose data was purged at an opt-out and who are back.
    """
    wanted = {}
    for user in sorted(candidates):
        if opted_out(user):
            continue
        if user in purged:
            wanted[user] = min(purged[user])
        elif user not in known and user not in with_data:
            wanted[user] = None
    return wanted

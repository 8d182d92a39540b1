"""Values from accounting: the error for a field that cannot be read, and the one rule for usernames.

A username is the only string from accounting that ever becomes part of a path (agg/users/<user>.json), so
what may pass is decided here, once, for the collector, the opt-out lists and the board alike.
"""
import re

_USER_OK = re.compile(r"[a-z0-9_][a-z0-9._-]{0,63}\Z")   # at most 64 characters (Linux allows 32)


class BadField(ValueError):
    """One field of a sacct line cannot be read; carries the field name for the report."""

    def __init__(self, field, value, why):
        super().__init__("{} {!r}: {}".format(field, value[:40], why))
        self.field = field


def normalize_user(raw):
    """'Alice@EXAMPLE.ORG' → 'alice'; BadField unless the result is a safe username."""
    user = raw.split("@", 1)[0].strip().lower()
    if not _USER_OK.match(user):
        raise BadField("User", raw, "not a valid username")
    return user


def is_valid_user(name):
    return bool(_USER_OK.match(name))

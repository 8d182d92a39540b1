"""A cluster's stored files read back: rollups, user totals and small JSON state, each checked as it is parsed.

A file that cannot be parsed raises Damaged, naming it and what to do; a missing file reads as empty.
"""
import json
import os

from sb.names import is_valid_user
from sb.store.files import read_bytes
from sb.store.counters import METRICS
from sb.store.rollups import monthly_columns, monthly_rows_of, parse_daily, parse_monthly, parse_user


class Damaged(Exception):
    """A stored file cannot be read; the message names it. The collector quarantines it (collect.heal)."""

    def __init__(self, path, why):
        super().__init__("{} is damaged ({})".format(path, why))
        self.path = path


class ClusterData:
    """The loaders of one cluster's subtree (paths from store.layout.ClusterPaths)."""

    def __init__(self, paths):
        self.paths = paths

    def daily(self, month):
        """{"DD": {(user, account, partition): counters}} of a month's daily rollup; {} when there is none."""
        data = read_bytes(self.paths.daily(month))
        return {} if data is None else guard(parse_daily, data, self.paths.daily(month))

    def monthly_totals(self, month):
        """{(user, account, partition): counters} of a month's monthly rollup."""
        data = read_bytes(self.paths.monthly(month))
        return {} if data is None else guard(parse_monthly, data, self.paths.monthly(month))

    def monthly_columns(self, month, keys):
        """(users, {metric: [value per row]}) of these metrics (sums: hours, MB, counts) in a month's monthly
        rollup; a user has one row per account and partition they used."""
        path = self.paths.monthly(month)
        data = read_bytes(path)
        if data is None:
            return [], {}
        return guard(lambda d, w: monthly_columns(d, w, [k for k in keys if k in METRICS]), data, path)

    def monthly_rows_of(self, month, field, name):
        """[(username, counters)] of a month's monthly rollup rows whose field (username, account or
        partition) is name; [] when the month has no rollup."""
        path = self.paths.monthly(month)
        data = read_bytes(path)
        return [] if data is None else guard(lambda d, w: monthly_rows_of(d, w, field, name), data, path)

    def user(self, user):
        """A user's all-time counters on this cluster by account and partition ({} when they have no file)."""
        path = self.paths.user(user)
        data = read_bytes(path)
        return {} if data is None else guard(lambda d, w: parse_user(d, self.paths.cluster, w), data, path)

    def users_on_disk(self):
        return sorted(name[:-5] for name in listdir(self.paths.users_dir)
                      if name.endswith(".json") and not name.startswith(".") and is_valid_user(name[:-5]))

    def months_on_disk(self):
        return sorted(name[:-5] for name in listdir(self.paths.monthly_dir)
                      if name.endswith(".json") and not name.startswith("."))

    def json(self, path, empty):
        """A small JSON state file, or `empty` when it does not exist."""
        data = read_bytes(path)
        return empty if data is None else parse_json(data, path)

    def purged(self):
        """{user: [months]} that held a purged user's data (state/purged.json)."""
        return self.json(self.paths.purged, {})


def guard(parse, data, path):
    try:
        return parse(data, path)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
        raise Damaged(path, err)


def parse_json(data, path, check=None):
    """JSON of a state file; `check(data, path)` first (e.g. seal.unseal) when given."""
    return guard(lambda text, _: json.loads((check(text, path) if check else text).decode()), data, path)


def read_json_or_none(path):
    """A small state file that may be rebuilt at will: None when absent or unreadable."""
    try:
        return json.loads((read_bytes(path) or b"null").decode())
    except (ValueError, UnicodeDecodeError, OSError):
        return None


def listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []

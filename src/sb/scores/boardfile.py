"""Leaderboard files → Board tuples: a file as the collector writes it (sealed, laid out by
store.leaderboards.board_json) is read lazily, column by column; any other is parsed whole and checked value
by value. Also the small sealed JSON files (`load`) the board reads beside them."""
import collections
import json
import re
from itertools import chain

from sb.store.counters import COLUMNS, WIDTH
from sb.store.seal import MARK, unseal

Board = collections.namedtuple("Board", "min_jobs names columns groups")
Board.__doc__ = ("One leaderboard file's min_jobs and user table (names, one list per counter column), and its "
                 "group tables {by: Group}.")
Group = collections.namedtuple("Group", "names columns members users")
Group.__doc__ = ("An account or partition table: names, one list per counter column, each one's members (indexes "
                 "into users, the file's user names: made names only when a group view counts them).")
BY = ("user", "account", "partition")


def parse_json(path):
    return load(path)[0]


def load(path):
    """(the file's JSON, whether its checksum vouched for it): a sealed file is byte for byte what the
    collector wrote; one without a checksum (written before them, or by hand) gets every value checked."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return json.loads(unseal(data, path).decode("utf-8")), data.rfind(MARK) >= 0
    except PermissionError:
        raise
    except OSError as err:
        raise ValueError("{}: cannot read ({}); check its permissions".format(path, err.strerror))
    except ValueError as err:
        raise ValueError("{}: not valid JSON ({}); the next poll rewrites it".format(path, err))


def parse_board(path):
    """A leaderboard file's min_jobs and tables; anything else is a one-line error naming it. A file as the
    collector writes it, whose checksum holds, is read lazily (_lazy_board); any other is parsed and checked
    value by value."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except PermissionError:
        raise
    except OSError as err:
        raise ValueError("{}: cannot read ({}); check its permissions".format(path, err.strerror))
    board = _lazy_board(data, path)
    return board if board is not None else _parsed_board(path)


_TABLE = b'\n"table":{"columns":'
_GROUP_MARKS = {"account": b',\n"accounts":', "partition": b',\n"partitions":'}
_MIN_JOBS = re.compile(rb'^\{"asof":"[^"]*","window":"[^"]*","cluster":"(?:[^"\\]|\\.)*","min_jobs":(\d+),')


def _lazy_board(data, path):
    """The Board of a sealed file laid out as store.leaderboards.board_json writes it, or None for any other
    shape. The checksum is checked over the whole file; then only the user table's name line is parsed, each
    counter column when first asked for (a column is one JSON line), the group tables when a clan or
    partition view first asks, and the top-N lists never (the board ranks its own): at the first frame of a
    usage page that is under half of the file's bytes."""
    if data.rfind(MARK) < 0:
        return None
    body = unseal(data, path)[:data.rfind(MARK)]
    head = _MIN_JOBS.match(body)
    start = body.find(_TABLE)
    # the group tables are the last fifth of the file: looked for from its end (JSON escapes a newline
    # inside a name, so a mark cannot match inside one)
    partitions = body.rfind(_GROUP_MARKS["partition"])
    marks = {"account": body.rfind(_GROUP_MARKS["account"], max(start, 0), max(partitions, 0)),
             "partition": partitions}
    if not head or start < 0 or not start < marks["account"] < marks["partition"]:
        return None
    names, columns = _lazy_table(body[start + len(_TABLE) - len(b'{"columns":'):marks["account"]], "user")
    if names is None:
        return None
    raw = {"account": body[marks["account"] + len(_GROUP_MARKS["account"]):marks["partition"]],
           "partition": body[marks["partition"] + len(_GROUP_MARKS["partition"]):]}
    return Board(int(head.group(1)), names, columns, _LazyGroups(raw, names, path))


def _lazy_table(text, by):
    """(names, Lines of the counter columns) of a table '{"columns":[..],"data":[\n<line>,\n...\n]..}', or
    (None, None) when it is not laid out so."""
    opening = b'{"columns":%s,"data":[\n' % json.dumps([by] + list(COLUMNS), separators=(",", ":")).encode()
    end = text.find(b"\n]", len(opening))
    if not text.startswith(opening) or end < 0:
        return None, None
    lines = text[len(opening):end].split(b",\n")
    if len(lines) != WIDTH + 1:
        return None, None
    names = json.loads(lines[0].decode("utf-8"))
    return names, Lines(lines[1:], len(names))


class Lines:
    """A table's counter columns (a sequence of WIDTH lists), each parsed from its JSON line when first read."""

    def __init__(self, lines, length):
        self._lines, self._length = lines, length
        self._parsed = [None] * len(lines)
        self._tokens = {}           # index → the line split at its commas (for value())

    def __getitem__(self, index):
        found = self._parsed[index]
        if found is None:
            found = self._parsed[index] = json.loads(self._lines[index])
            if len(found) != self._length:      # the checksum held: only a writer's bug can get here
                raise ValueError("a counter column of {} values for {} names".format(len(found), self._length))
        return found

    def value(self, index, at):
        """One name's value in a column: the rows drawn need a few values of columns no ranking asked for,
        and splitting a line at its commas is three times faster than parsing it."""
        found = self._parsed[index]
        if found is not None:
            return found[at]
        tokens = self._tokens.get(index)
        if tokens is None:
            tokens = self._tokens[index] = self._lines[index].split(b",")
            if len(tokens) != self._length:      # the checksum held: only a writer's bug can get here
                raise ValueError("a counter column of {} values for {} names".format(len(tokens), self._length))
        return int(tokens[at].strip(b"[]"))

    def __len__(self):
        return len(self._lines)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class _LazyGroups(dict):
    """{by: Group} of a board file, each table parsed when first asked for."""

    def __init__(self, raw, users, path):
        super().__init__()
        self._raw, self._users, self._path = raw, users, path

    def __missing__(self, by):
        doc = json.loads(self._raw[by].decode("utf-8"))
        if doc.get("columns") != [by] + list(COLUMNS):
            raise ValueError("{}: no {} table; run `slurm-sb rebuild --cluster NAME` to rewrite it".format(
                self._path, by))
        names, columns = _columns(doc, self._path, False)
        if not _member_lists(doc.get("members"), len(names), len(self._users), False):
            raise ValueError("{}: damaged {} members; run `slurm-sb rebuild --cluster NAME`".format(self._path, by))
        group = self[by] = Group(names, columns, doc["members"], self._users)
        return group


def _parsed_board(path):
    """A board file read whole, every value checked (no checksum, or not laid out as the collector does)."""
    doc, sealed = load(path)
    table = doc.get("table") if isinstance(doc, dict) else None
    if not isinstance(table, dict) or table.get("columns") != ["user"] + list(COLUMNS):
        raise ValueError("{}: no counter table of this version; run `slurm-sb rebuild --cluster NAME` with this "
                         "version to rewrite it".format(path))
    names, columns = _columns(table, path, not sealed)
    groups = {}
    for by in BY[1:]:
        group = doc.get(by + "s")
        if not isinstance(group, dict) or group.get("columns") != [by] + list(COLUMNS):
            raise ValueError("{}: no {} table; run `slurm-sb rebuild --cluster NAME` to rewrite it".format(path, by))
        group_names, group_columns = _columns(group, path, not sealed)
        members = group.get("members")
        if not _member_lists(members, len(group_names), len(names), not sealed):
            raise ValueError("{}: damaged {} members; run `slurm-sb rebuild --cluster NAME`".format(path, by))
        groups[by] = Group(group_names, group_columns, members, names)
    min_jobs = doc.get("min_jobs")
    return Board(min_jobs if type(min_jobs) is int else 3, names, columns, groups)


def _member_lists(members, groups, users, every_value=True):
    """A list per group of user indexes in range (each index checked only with `every_value`)."""
    if not isinstance(members, list) or len(members) != groups or set(map(type, members)) - {list}:
        return False
    if not every_value:
        return True
    flat = list(chain.from_iterable(members))
    return not set(map(type, flat)) - {int} and (not flat or 0 <= min(flat) <= max(flat) < users)


def _columns(table, path, every_value=True):
    data = table.get("data")
    if not isinstance(data, list) or len(data) != WIDTH + 1 or any(not isinstance(c, list) for c in data) or \
            len({len(c) for c in data}) > 1 or set(map(type, data[0])) - {str} or \
            (every_value and not all(_whole_numbers(column) for column in data[1:])):
        raise ValueError("{}: damaged counter table; run `slurm-sb rebuild --cluster NAME` to rewrite it".format(path))
    return data[0], data[1:]


def _whole_numbers(column):
    """Every value an integer in [0, 2**96): a float anywhere makes the sum a float, text makes it fail. In C
    builtins only, as every board file is checked at the first frame (20 columns of 10k users each)."""
    try:
        return not column or (type(sum(column)) is int and 0 <= min(column) and max(column) < 2 ** 96)
    except TypeError:
        return False

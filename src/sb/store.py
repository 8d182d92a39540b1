"""Files under --root: the layout, atomic writes, multi-file transactions that survive kill -9, the lock.

A transaction stages every new file as a hidden temp file beside its target (written and fsync'd),
then commits by atomically writing one journal that lists the renames. Replaying a journal is
idempotent, so a crash at any instant leaves either the old state (no journal: stray temps are
swept) or the new one (journal present: it is replayed on the next run).
"""
import errno
import fcntl
import itertools
import json
import os
import socket
import time

JOURNAL = "journal.json"
TMP_MARK = ".tmp-"
_crash_points_passed = [0]
_temp_serial = itertools.count(1)
_HOST = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname().split(".")[0]) or "host"


class ClusterPaths:
    """Every path of one cluster's subtree (spec §7), relative names kept in one place."""

    def __init__(self, root, cluster):
        self.root = root
        self.cluster = cluster
        self.base = os.path.join(root, "clusters", cluster)
        self.state = os.path.join(self.base, "state")
        self.seen_dir = os.path.join(self.state, "seen")
        self.agg = os.path.join(self.base, "agg")
        self.users_dir = os.path.join(self.agg, "users")
        self.monthly_dir = os.path.join(self.agg, "rollups", "monthly")
        self.daily_dir = os.path.join(self.agg, "rollups", "daily")
        self.boards_dir = os.path.join(self.agg, "leaderboards")
        self.cursor = os.path.join(self.state, "poll_cursor.json")
        self.lock = os.path.join(self.state, "lock.pid")
        self.journal = os.path.join(self.state, JOURNAL)
        self.pacing = os.path.join(self.state, "pacing.json")
        self.log = os.path.join(self.state, "problems.log")
        self.purged = os.path.join(self.state, "purged.json")
        self.known_users = os.path.join(self.state, "known_users.json")
        self.visibility = os.path.join(self.state, "visibility.json")
        self.boards_stamp = os.path.join(self.state, "boards.json")
        self.live = os.path.join(self.base, "live.json")

    def dirs(self):
        return (self.state, self.seen_dir, self.users_dir, self.monthly_dir, self.daily_dir, self.boards_dir)

    def make_dirs(self):
        for path in self.dirs() + (os.path.join(self.root, "config"), os.path.join(self.root, "ui")):
            os.makedirs(path, exist_ok=True)

    def seen(self, month):
        return os.path.join(self.seen_dir, month + ".bloom")

    def monthly(self, month):
        return os.path.join(self.monthly_dir, month + ".json")

    def daily(self, month):
        return os.path.join(self.daily_dir, month + ".json")

    def user(self, name):
        return os.path.join(self.users_dir, name + ".json")

    def board(self, window):
        return os.path.join(self.boards_dir, window + ".json")


def crashpoint(label):
    """Fault injection for the kill -9 test: SLURM_SB_CRASH_AT=N kills this process at the Nth point."""
    target = os.environ.get("SLURM_SB_CRASH_AT")
    if target:
        _crash_points_passed[0] += 1
        if _crash_points_passed[0] == int(target):
            os.kill(os.getpid(), 9)


def read_bytes(path):
    """File content, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return None
        raise


def _temp_name(path):
    head, tail = os.path.split(path)  # host in the name: pids of two login nodes sharing NFS can collide
    return os.path.join(head, ".{}{}{}-{}-{}".format(tail, TMP_MARK, _HOST, os.getpid(), next(_temp_serial)))


def _write_synced(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask 002 makes it 0664
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some network filesystems refuse fsync on directories; rename is still atomic
        pass
    finally:
        os.close(fd)


def atomic_write(path, data):
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    temp = _temp_name(path)
    _write_synced(temp, data)
    crashpoint("atomic_write:staged")
    os.replace(temp, path)
    fsync_dir(os.path.dirname(path))


class Transaction:
    """Stage several file writes/deletes and make them all visible together (see module doc)."""

    def __init__(self, paths):
        self.paths = paths
        self.renames = []
        self.deletes = []

    def write(self, path, data):
        temp = _temp_name(path)
        _write_synced(temp, data)
        crashpoint("tx:staged")
        self.renames.append((temp, path))

    def write_with(self, path, fill):
        """Stage `path` by streaming: `fill(handle)` writes to a seekable binary file (never held whole)."""
        temp = _temp_name(path)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w+b") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        crashpoint("tx:staged")
        self.renames.append((temp, path))

    def delete(self, path):
        self.deletes.append(path)

    def commit(self):
        if not self.renames and not self.deletes:
            return
        rel = lambda p: os.path.relpath(p, self.paths.base)  # noqa: E731 - the journal survives remounts
        journal = {"renames": [[rel(a), rel(b)] for a, b in self.renames],
                   "deletes": [rel(p) for p in self.deletes]}
        fsync_dir_set({os.path.dirname(b) for _, b in self.renames})
        atomic_write(self.paths.journal, json.dumps(journal).encode())
        crashpoint("tx:journaled")
        replay(self.paths)


def fsync_dir_set(dirs):
    for path in sorted(dirs):
        fsync_dir(path)


def replay(paths):
    """Finish a committed transaction (idempotent), then drop its journal."""
    data = read_bytes(paths.journal)
    if data is None:
        return False
    journal = json.loads(data.decode())
    touched = set()
    for temp, final in journal["renames"]:
        temp, final = os.path.join(paths.base, temp), os.path.join(paths.base, final)
        if os.path.exists(temp):
            os.replace(temp, final)
            crashpoint("tx:renamed")
        touched.add(os.path.dirname(final))
    for gone in journal["deletes"]:
        gone = os.path.join(paths.base, gone)
        try:
            os.unlink(gone)
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
        touched.add(os.path.dirname(gone))
    fsync_dir_set(touched)
    os.unlink(paths.journal)
    fsync_dir(paths.state)
    return True


def recover(paths):
    """After taking the lock: finish a committed transaction, sweep temps of an uncommitted one."""
    replayed = replay(paths)
    swept = 0
    for folder in paths.dirs():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and TMP_MARK in name:
                os.unlink(os.path.join(folder, name))
                swept += 1
    return replayed, swept


class Busy(Exception):
    """Another process holds the cluster's lock; the message names it."""


class ClusterLock:
    """flock on state/lock.pid, with the holder's host, pid and start time written inside."""

    def __init__(self, paths):
        self.paths = paths
        self.fd = None

    def __enter__(self):
        fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as err:
            holder = os.read(fd, 300).decode("utf-8", "replace").strip() or "unknown holder"
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise Busy(holder)
            raise
        holder = "host={} pid={} since={}\n".format(
            socket.gethostname(), os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, holder)  # overwrite, then trim: a second poller never reads an empty holder line
        os.ftruncate(fd, len(holder))
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock; the holder line stays as a harmless record
        self.fd = None

"""Bytes to files: atomic writes, and multi-file transactions that survive kill -9.

A transaction stages every new file as a hidden temp file beside its target (written and fsync'd),
then commits by atomically writing one journal that lists the renames. Replaying a journal is
idempotent, so a crash at any instant leaves either the old state (no journal: stray temps are
swept) or the new one (journal present: it is replayed on the next run).
"""
import errno
import itertools
import json
import os
import socket

TMP_MARK = ".tmp-"
_crash_points_passed = [0]
_temp_serial = itertools.count(1)
_HOST = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname().split(".")[0]) or "host"


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

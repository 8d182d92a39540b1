"""Bytes to files: atomic writes, and multi-file transactions that survive kill -9.

A transaction stages every new file as a hidden temp file beside its target, then commits by
atomically writing one journal that lists the renames. Replaying a journal is idempotent, so a crash
at any instant leaves either the old state (no journal: stray temps are swept) or the new one
(journal present: it is replayed on the next run).

Durability order of a commit (each step only after the one before is on disk): every temp file is
fsync'd once, after all are written (one burst of writeback instead of a wait per file), with the
journal's own temp; then each directory holding a temp; then the journal is renamed into place and
its directory fsync'd; only then the renames, then one fsync per directory they touched.

The tree is group-writable, so nothing in it is trusted: no file is opened through a symbolic link or
unless it is a regular file, no file is written into a linked directory, and a journal may only rename a
staged temp onto its sibling and delete files inside the cluster's subtree (anything else is quarantined).
"""
import errno
import itertools
import json
import os
import socket
import stat

TMP_MARK = ".tmp-"
PRIVATE = 0o660   # state naming users who may have opted out: the collectors' group only, never world-readable
_crash_points_passed = [0]
_temp_serial = itertools.count(1)
_HOST = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname().split(".")[0]) or "host"


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted where a file should be must not hang us


class Unsafe(Exception):
    """A link or a non-regular file where the collector reads or writes; the message names it and says
    what to do. Nothing is read or written through it."""


def open_regular(path, flags, mode=0o666):
    """os.open that never follows a symbolic link at `path` and keeps only a regular file."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK, mode)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK):
            raise Unsafe("{} is a symbolic link; the collector never follows links in the shared tree - "
                         "remove it".format(path))
        if err.errno == errno.ENXIO:  # a FIFO with no reader
            raise Unsafe("{} is not a regular file; remove it".format(path))
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Unsafe("{} is not a regular file; remove it".format(path))
    return fd


def check_dir(path):
    """Refuse to write into a directory that is a symbolic link (or not a directory)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
        raise Unsafe("{} is {}; the collector never writes through links - replace it with a directory".format(
            path, "a symbolic link" if stat.S_ISLNK(mode) else "not a directory"))


def crashpoint(label):
    """Fault injection for the kill -9 test: SLURM_SB_CRASH_AT=N kills this process at the Nth point."""
    target = os.environ.get("SLURM_SB_CRASH_AT")
    if target:
        _crash_points_passed[0] += 1
        if _crash_points_passed[0] == int(target):
            os.kill(os.getpid(), 9)


def read_bytes(path):
    """File content, or None when it does not exist (never through a link, regular files only)."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _temp_name(path):
    head, tail = os.path.split(path)  # host in the name: pids of two login nodes sharing NFS can collide
    return os.path.join(head, ".{}{}{}-{}-{}".format(tail, TMP_MARK, _HOST, os.getpid(), next(_temp_serial)))


def _create(path, flags, mode):
    """A new temp file: O_EXCL never creates through a link, and its directory must not be one."""
    check_dir(os.path.dirname(path))
    return os.open(path, flags | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_synced(path, data, mode=0o666):
    fd = _create(path, os.O_WRONLY, mode)  # umask 002 makes 0666 0664
    try:
        _write_all(fd, data)
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


def atomic_write(path, data, mode=0o666):
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    temp = _temp_name(path)
    _write_synced(temp, data, mode)
    crashpoint("atomic_write:staged")
    os.replace(temp, path)
    fsync_dir(os.path.dirname(path))


class Transaction:
    """Stage several file writes/deletes and make them all visible together (see module doc)."""

    # Temps are kept open until commit fsyncs them; past this many, the oldest is fsync'd and closed at once
    # (still before the journal), so a transaction of thousands of files stays far below the fd limit.
    MAX_OPEN = 128

    def __init__(self, paths):
        self.paths = paths
        self.renames = []
        self.deletes = []
        self._unsynced = []   # fds of written temps not fsync'd yet, oldest first

    def write(self, path, data, mode=0o666):
        temp = _temp_name(path)
        fd = _create(temp, os.O_WRONLY, mode)
        self._hold(fd)
        _write_all(fd, data)
        crashpoint("tx:staged")
        self.renames.append((temp, path))

    def write_with(self, path, fill):
        """Stage `path` by streaming: `fill(handle)` writes to a seekable binary file (never held whole)."""
        temp = _temp_name(path)
        fd = _create(temp, os.O_RDWR, 0o666)
        self._hold(fd)
        with os.fdopen(fd, "w+b", closefd=False) as handle:
            fill(handle)
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
        staged = _temp_name(self.paths.journal)
        self._hold(_create(staged, os.O_WRONLY, 0o666))
        _write_all(self._unsynced[-1], json.dumps(journal).encode())
        self._sync()
        fsync_dir_set({os.path.dirname(b) for _, b in self.renames})
        crashpoint("atomic_write:staged")
        os.replace(staged, self.paths.journal)
        fsync_dir(self.paths.state)
        crashpoint("tx:journaled")
        replay(self.paths)

    def _hold(self, fd):
        self._unsynced.append(fd)
        if len(self._unsynced) > self.MAX_OPEN:
            self._sync(1)

    def _sync(self, count=None):
        """fsync and close the `count` oldest open temps (all by default), each once."""
        count = len(self._unsynced) if count is None else count
        done, self._unsynced = self._unsynced[:count], self._unsynced[count:]
        try:
            for fd in done:
                os.fsync(fd)
        finally:
            for fd in done:
                os.close(fd)

    def __del__(self):
        # A transaction dropped before its commit (an error while staging) must not leak its fds; its
        # temps are swept by the next run's recovery.
        for fd in getattr(self, "_unsynced", ()):
            try:
                os.close(fd)
            except OSError:
                pass


def fsync_dir_set(dirs):
    for path in sorted(dirs):
        fsync_dir(path)


def replay(paths, warn=None):
    """Finish a committed transaction (idempotent), then drop its journal. A journal that is not one
    this code writes (damaged, or planted: absolute paths, '..', links out of the subtree, a rename
    that is not a staged temp onto its sibling) is refused whole: kept as journal.json.bad, one warning,
    nothing in it renamed or deleted."""
    try:
        data = read_bytes(paths.journal)
    except Unsafe as err:
        return _quarantine(paths, str(err), warn)
    if data is None:
        return False
    try:
        renames, deletes = _checked_journal(paths, data)
    except ValueError as err:
        return _quarantine(paths, str(err), warn)
    touched = set()
    for temp, final in renames:
        if os.path.lexists(temp):
            os.replace(temp, final)
            crashpoint("tx:renamed")
        touched.add(os.path.dirname(final))
    for gone in deletes:
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


def _checked_journal(paths, data):
    """([(temp, final)], [deleted]) as absolute paths, or ValueError saying what is wrong."""
    try:
        journal = json.loads(data.decode("utf-8"))
    except ValueError as err:  # UnicodeDecodeError included
        raise ValueError("not a journal: {}".format(err))
    if not isinstance(journal, dict) or not isinstance(journal.get("renames"), list) \
            or not isinstance(journal.get("deletes"), list):
        raise ValueError("not a journal: expected {\"renames\": [...], \"deletes\": [...]}")
    inside = _Confinement(paths.base)
    renames = []
    for pair in journal["renames"]:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError("rename entry {!r} is not a [temp, final] pair".format(pair))
        temp, final = inside(pair[0]), inside(pair[1])
        if os.path.dirname(temp) != os.path.dirname(final) or not os.path.basename(temp).startswith(
                "." + os.path.basename(final) + TMP_MARK):
            raise ValueError("rename {!r} is not a staged temp file onto its sibling".format(pair))
        renames.append((temp, final))
    return renames, [inside(gone) for gone in journal["deletes"]]


class _Confinement:
    """Relative, normalized path inside the cluster's subtree (and not through a link) → absolute path."""

    def __init__(self, base):
        self.base = base
        self.real_base = os.path.realpath(base)
        self.dirs = {}

    def __call__(self, rel):
        if not isinstance(rel, str) or not rel or "\0" in rel or os.path.isabs(rel) \
                or os.path.normpath(rel) != rel or rel.split(os.sep)[0] in ("..", "."):
            raise ValueError("path {!r} is not relative and normalized inside {}".format(rel, self.base))
        folder = os.path.dirname(rel)
        ok = self.dirs.get(folder)
        if ok is None:
            expected = os.path.join(self.real_base, folder) if folder else self.real_base
            ok = self.dirs[folder] = os.path.realpath(os.path.join(self.base, folder)) == expected
        if not ok:
            raise ValueError("path {!r} leads out of {} through a link".format(rel, self.base))
        return os.path.join(self.base, rel)


def _quarantine(paths, why, warn):
    """Keep a refused journal as journal.json.bad (never overwriting an earlier one) and say so once."""
    bad = paths.journal + ".bad"
    serial = 1
    while os.path.lexists(bad):
        serial += 1
        bad = "{}.bad.{}".format(paths.journal, serial)
    os.rename(paths.journal, bad)
    fsync_dir(paths.state)
    (warn or print)("{}: {} refused ({}); kept as {}, nothing in it was done - look at it, then delete it".format(
        paths.cluster, paths.journal, why, os.path.basename(bad)))
    return False


def make_private(path):
    """A file written world-readable by an earlier version gets PRIVATE (rewritten, so it works whoever
    in the group owns it)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode) or not mode & 0o007:
        return False
    atomic_write(path, read_bytes(path), PRIVATE)
    os.chmod(path, PRIVATE)  # our own new file: whatever the umask
    return True


def check_tree(paths):
    """Before a run writes: none of the cluster's directories may be a link (see check_dir)."""
    for folder in paths.dirs() + (paths.agg, os.path.dirname(paths.monthly_dir)):
        check_dir(folder)


def recover(paths, warn=None):
    """After taking the lock: finish a committed transaction, sweep temps of an uncommitted one."""
    replayed = replay(paths, warn)
    swept = 0
    for folder in paths.dirs() + (paths.base,):  # the base holds live.json's temps
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and TMP_MARK in name:
                os.unlink(os.path.join(folder, name))
                swept += 1
    return replayed, swept

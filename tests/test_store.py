"""Atomic files, journaled transactions, recovery, and the cluster lock."""
import json
import os
import subprocess
import sys

import pytest

from sb.store.files import atomic_write, read_bytes, recover, Transaction
from sb.store.layout import ClusterPaths
from sb.store.lock import Busy, ClusterLock


@pytest.fixture
def paths(tmp_path):
    p = ClusterPaths(str(tmp_path), "hammer")
    p.make_dirs()
    return p


def test_atomic_write_replaces_and_leaves_no_temp(paths):
    target = paths.board("alltime")
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert read_bytes(target) == b"two"
    assert os.listdir(paths.boards_dir) == ["alltime.json"]


def test_files_are_world_readable_and_dirs_group_writable(tmp_path):
    old = os.umask(0o002)
    try:
        p = ClusterPaths(str(tmp_path / "r"), "c")
        p.make_dirs()
        atomic_write(p.board("alltime"), b"x")
    finally:
        os.umask(old)
    assert os.stat(p.board("alltime")).st_mode & 0o777 == 0o664
    assert os.stat(p.boards_dir).st_mode & 0o777 == 0o775


def test_transaction_is_invisible_until_commit(paths):
    tx = Transaction(paths)
    tx.write(paths.user("alice"), b"A")
    tx.write(paths.cursor, b"C")
    assert read_bytes(paths.user("alice")) is None
    tx.commit()
    assert read_bytes(paths.user("alice")) == b"A" and read_bytes(paths.cursor) == b"C"
    assert not os.path.exists(paths.journal)


def test_uncommitted_temps_are_swept(paths):
    tx = Transaction(paths)
    tx.write(paths.user("alice"), b"A")       # staged, never committed (as if killed here)
    replayed, swept = recover(paths)
    assert (replayed, swept) == (False, 1)
    assert os.listdir(paths.users_dir) == []


def test_a_journal_left_by_a_crash_is_replayed_idempotently(paths):
    atomic_write(paths.user("gone"), b"old")
    tx = Transaction(paths)
    tx.write(paths.user("alice"), b"A")
    tx.write(paths.user("bob"), b"B")
    tx.delete(paths.user("gone"))
    rel = lambda p: os.path.relpath(p, paths.base)  # noqa: E731
    journal = {"renames": [[rel(a), rel(b)] for a, b in tx.renames], "deletes": [rel(paths.user("gone"))]}
    atomic_write(paths.journal, json.dumps(journal).encode())
    os.replace(*tx.renames[0])                 # crash after the first rename
    assert recover(paths) == (True, 0)
    assert sorted(os.listdir(paths.users_dir)) == ["alice.json", "bob.json"]
    assert recover(paths) == (False, 0)        # nothing left to do


def test_second_holder_is_refused_with_the_holders_name(paths):
    with ClusterLock(paths):
        code = ("import sys; sys.path[:0] = {!r}\n"
                "from sb.store.layout import ClusterPaths\nfrom sb.store.lock import ClusterLock, Busy\n"
                "try:\n    ClusterLock(ClusterPaths({!r}, 'hammer')).__enter__()\n"
                "except Busy as b:\n    print('BUSY', b)\n").format(sys.path, paths.root)
        out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, universal_newlines=True).stdout
        assert out.startswith("BUSY host=") and "pid={}".format(os.getpid()) in out
    with ClusterLock(paths):   # released: can be taken again
        pass


# ---- checksums inside stored files -----------------------------------------------------------------

def test_a_sealed_file_reads_back_and_any_changed_byte_is_caught():
    import json
    import pytest
    from sb.store.seal import seal, unseal
    data = seal(b'{"month":"2024-01","days":{"01":{"alice":[1,2,3]}}}\n')
    assert json.loads(unseal(data, "x").decode())["days"]["01"]["alice"] == [1, 2, 3]
    assert unseal(b'{"old": 1}\n', "old.json") == b'{"old": 1}\n'     # written before checksums: read as is
    for damaged in (data.replace(b"[1,2,3]", b"[1,2,4]"), data.replace(b"[1,2,3]", b"[0,0,0]"),
                    data[:10] + b"\0" + data[11:]):
        with pytest.raises(ValueError, match="x.json: checksum mismatch"):
            unseal(damaged, "x.json")


def test_rollup_and_user_files_carry_a_checksum_checked_on_read():
    import pytest
    from sb.store.rollups import daily_json, parse_daily, parse_user, user_json
    from sb.store.counters import WIDTH
    key = ("alice", "phys", "cpu")
    daily = daily_json("2024-01", {"01": {key: [1] * WIDTH}})
    user = user_json("alice", "hammer", {key[1:]: [2] + [3600] * (WIDTH - 1)}, 0)
    assert parse_daily(daily, "d")["01"][key] == [1] * WIDTH and parse_user(user, "hammer", "u")[key[1:]][0] == 2
    import gzip
    changed = gzip.compress(gzip.decompress(daily).replace(b",1,1,1,", b",1,2,1,", 1))
    with pytest.raises(ValueError, match="checksum"):     # still valid JSON with valid counters: only the sum knows
        parse_daily(changed, "d")
    with pytest.raises(ValueError, match="checksum"):
        parse_user(gzip.compress(gzip.decompress(user).replace(b'"jobs":2', b'"jobs":3')), "hammer", "u")


# ---- the durability order of a commit ----------------------------------------------------------------

def record_file_operations(monkeypatch):
    """[(operation, path...)] of every fsync (by the path its fd names), rename and unlink, in order."""
    events = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

    def fsync(fd):
        events.append(("fsync", os.readlink("/proc/self/fd/{}".format(fd))))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", src, dst))
        real_replace(src, dst)

    def unlink(path):
        events.append(("unlink", path))
        real_unlink(path)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    return events


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names an fd's file through /proc")
def test_a_commit_fsyncs_each_temp_once_after_all_are_written_then_the_journal_then_renames(paths, monkeypatch):
    events = record_file_operations(monkeypatch)
    tx = Transaction(paths)
    tx.write(paths.user("alice"), b"A")
    tx.write_with(paths.seen("2024-01"), lambda out: out.write(b"S"))
    tx.write(paths.cursor, b"C")
    tx.delete(paths.user("gone"))
    assert events == []                       # writing syncs nothing: the commit does, once per file
    tx.commit()
    temps = [temp for temp, _ in tx.renames]
    journal_at = events.index(next(e for e in events if e[0] == "replace" and e[2] == paths.journal))
    before, after = events[:journal_at], events[journal_at + 1:]
    synced = [e[1] for e in before if e[0] == "fsync"]
    journal_temp = events[journal_at][1]
    assert sorted(synced[:4]) == sorted(temps + [journal_temp])   # every temp once, the journal's too…
    assert sorted(synced[4:]) == sorted({paths.users_dir, paths.seen_dir, paths.state})   # …then their folders
    assert all(e[0] == "fsync" for e in before)                   # nothing renamed before the journal is in place
    assert after[0] == ("fsync", paths.state)                     # the journal's name is on disk
    renamed = [e[1:] for e in after if e[0] == "replace"]
    assert renamed == tx.renames
    last_rename = max(i for i, e in enumerate(after) if e[0] == "replace")
    folders = [e[1] for e in after[last_rename + 1:] if e[0] == "fsync"]
    assert set(folders) >= {paths.users_dir, paths.seen_dir, paths.state}   # renames on disk before the journal goes
    assert after.index(("unlink", paths.journal)) > last_rename
    assert read_bytes(paths.user("alice")) == b"A" and read_bytes(paths.seen("2024-01")) == b"S"


def test_a_transaction_of_more_files_than_it_keeps_open_syncs_every_one(paths, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    monkeypatch.setattr(Transaction, "MAX_OPEN", 3)
    tx = Transaction(paths)
    for n in range(10):
        tx.write(paths.user("u{}".format(n)), b"x")
    assert len(synced) == 7                   # the oldest synced and closed as the limit is passed
    tx.commit()
    assert sorted(os.listdir(paths.users_dir)) == sorted("u{}.json".format(n) for n in range(10))
    assert len(synced) == 10 + 1 + 1 + 1 + 1 + 1   # temps and journal; the folder; state after the journal; the folder and state after the renames


def test_a_transaction_dropped_before_its_commit_closes_its_files(paths):
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    tx = Transaction(paths)
    tx.write(paths.user("alice"), b"A")
    del tx
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before
    assert recover(paths) == (False, 1)

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

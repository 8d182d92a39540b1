"""Dedupe: exact both ways (no false "new", no false "already counted"); identities kept by Submit month, so
an End in another month changes nothing; files round-trip and depend only on their identities; every kind
of damage raises seen.Damaged naming the file; roots of the old format are upgraded exactly and kill -9
safely."""
import json
import os
import random
import re
import zlib
from array import array

import pytest
from hypothesis import given, settings, strategies as st

import legacy_seen
from sb.collect import seen as seen_mod
from sb.collect.seen import BLOCK_SHIFT, ENTRY, HEAD, MAGIC, Damaged, SeenShard, shard_of
from sb.store import files
from sb.store.layout import ClusterPaths

JAN = 1704067200        # 2024-01-01T00:00:00Z
FEB = 1706745600        # 2024-02-01T00:00:00Z


def key(job_id, submit=JAN + 3600):
    return job_id << 32 | submit


def shard_with(keys, month="2024-01"):
    seen = SeenShard(month)
    for k in keys:
        seen.add(k)
    return seen


def round_trip(keys, month="2024-01"):
    return SeenShard.from_bytes(month, shard_with(keys, month).to_bytes(), "f")


def test_added_keys_are_seen_and_others_are_not():
    restored = round_trip([key(n, JAN + n) for n in range(5000)])
    assert restored.count == 5000
    assert all(key(n, JAN + n) in restored for n in range(5000))
    assert not any(key(n, JAN + n + 1) in restored for n in range(5000))   # the same ids, other Submits
    assert not any(key(n, JAN + n) in restored for n in range(5000, 9000))  # ids past the last one


def test_same_job_id_with_another_submit_is_another_identity():
    seen = shard_with([key(42, JAN)])
    assert key(42, JAN) in seen and key(42, JAN + 100) not in seen
    restored = SeenShard.from_bytes("2024-01", seen.to_bytes(), "f")
    assert key(42, JAN) in restored and key(42, JAN + 100) not in restored


def test_the_file_of_an_identity_is_its_submit_month_not_its_end():
    assert shard_of(key(7, JAN)) == "2024-01" and shard_of(key(7, FEB - 1)) == "2024-01"
    assert shard_of(key(7, FEB)) == "2024-02"


def test_months_written_again_and_again_keep_every_key():
    data, everything = SeenShard("2024-01").to_bytes(), []
    for round_no in range(4):                       # four commits of a growing month
        seen = SeenShard.from_bytes("2024-01", data, "f")
        fresh = [key(n, JAN + round_no) for n in range(round_no * 1500, (round_no + 1) * 1500)]
        assert not any(k in seen for k in fresh)
        for k in fresh:
            seen.add(k)
        everything += fresh
        data = seen.to_bytes()
    restored = SeenShard.from_bytes("2024-01", data, "f")
    assert restored.count == 6000
    assert all(k in restored for k in everything)
    assert list(restored.keys()) == sorted(everything)


def test_the_file_depends_only_on_its_keys_not_on_how_many_commits_built_it():
    rng = random.Random(5)
    keys = rng.sample([key(n, JAN + n % 7) for n in range(40000)], 12000)   # ~10 blocks, any order
    data = SeenShard("2024-01").to_bytes()
    for start in range(0, len(keys), 1000):         # twelve commits, each touching blocks all over
        piece = SeenShard.from_bytes("2024-01", data, "f")
        for k in keys[start:start + 1000]:
            assert k not in piece
            piece.add(k)
        data = piece.to_bytes()
    assert data == shard_with(keys).to_bytes()


def test_a_key_added_twice_or_already_in_the_file_is_stored_once():
    once = shard_with([key(1), key(2)]).to_bytes()
    again = SeenShard.from_bytes("2024-01", once, "f")
    again.add(key(1))
    assert again.to_bytes() == once


def test_a_reader_keeps_a_bounded_number_of_blocks_in_memory():
    blocks = seen_mod.CACHED_BLOCKS * 3
    restored = round_trip([key(n << (BLOCK_SHIFT - 32)) for n in range(blocks)])   # one job id per block
    assert all(key(n << (BLOCK_SHIFT - 32)) in restored for n in range(blocks))
    assert len(restored._decoded) <= seen_mod.CACHED_BLOCKS
    assert all(key(n << (BLOCK_SHIFT - 32)) in restored for n in reversed(range(blocks)))   # evicted ones reload


def test_file_header_names_the_month_the_blocks_and_the_count():
    data = shard_with([key(n) for n in range(10)] + [key(5000)]).to_bytes()
    month, blocks, count, _ = HEAD.unpack_from(data, len(MAGIC))
    assert (month, blocks, count) == (b"2024-01", 2, 11)


def test_dense_ids_in_submit_order_cost_well_under_one_and_a_half_bytes_each():
    rng, submit, keys = random.Random(3), JAN, []
    for job_id in range(1000000, 1100000):
        submit += int(rng.expovariate(1 / 1.7))
        if rng.random() < 0.97:                       # some ids never count (never started, other clusters)
            keys.append(key(job_id, submit))
    data = shard_with(keys).to_bytes()
    assert len(data) / len(keys) < 0.8


def test_requeued_runs_of_one_job_id_are_told_apart_inside_a_block():
    runs = [key(4097, JAN + 60 * n) for n in range(0, 10, 2)]   # five runs of job 4097
    restored = round_trip(runs + [key(4096), key(4098)])
    assert all(k in restored for k in runs) and key(4096) in restored and key(4098) in restored
    assert not any(key(4097, JAN + 60 * n) in restored for n in range(1, 10, 2))
    assert key(4097, JAN + 600) not in restored and key(4099) not in restored
    assert list(restored.keys()) == sorted(runs + [key(4096), key(4098)])


def test_an_id_reused_after_a_wrap_with_an_earlier_submit_is_exact_too():
    first = [key(n, JAN + 86400 * 20 + n) for n in range(100, 200)]
    wrapped = [key(n, JAN + n) for n in range(150, 250)]     # ids reused within the month, Submits earlier
    restored = round_trip(first + wrapped)
    assert all(k in restored for k in first + wrapped)
    assert not any(key(n, JAN + n + 1) in restored for n in range(100, 250))
    assert restored.count == 200


@settings(max_examples=60, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 3 * 4096 + 5), st.integers(JAN, JAN + 40)), max_size=300),
       st.lists(st.tuples(st.integers(0, 3 * 4096 + 5), st.integers(JAN, JAN + 40)), max_size=100))
def test_membership_after_a_round_trip_is_exactly_set_membership(pairs, probes):
    keys = {key(i, s) for i, s in pairs}
    half = sorted(keys)[::2]
    first = SeenShard.from_bytes("2024-01", shard_with(half).to_bytes(), "f")
    for k in keys:
        first.add(k)
    restored = SeenShard.from_bytes("2024-01", first.to_bytes(), "f")
    assert restored.count == len(keys) and list(restored.keys()) == sorted(keys)
    for i, s in list(pairs) + probes:
        assert (key(i, s) in restored) == (key(i, s) in keys)


def test_open_reads_a_file_and_a_missing_file_is_an_empty_month(tmp_path):
    path = str(tmp_path / "submit-2024-01.seen")
    empty = SeenShard.open("2024-01", path)
    assert empty.count == 0 and key(1) not in empty
    empty.add(key(1))
    with open(path, "wb") as handle:
        empty.write(handle)
    again = SeenShard.open("2024-01", path)
    assert again.count == 1 and key(1) in again
    again.verify()
    again.close()
    with open(path, "rb") as handle:
        assert handle.read(len(MAGIC)) == MAGIC


# ---- damage: every kind raises seen.Damaged naming the file -------------------------------------------

WHERE = "state/seen/submit-2024-01.seen"


def sample_file():
    keys = [key(n, JAN + n) for n in range(0, 9000, 2)] + [key(100, JAN + 5000)]
    return shard_with(keys).to_bytes(), keys


def damaged(data, month="2024-01"):
    """Damaged from opening the bytes, from a lookup in every block, from verify() or from a rewrite."""
    with pytest.raises(Damaged) as caught:
        seen = SeenShard.from_bytes(month, data, WHERE)
        for n in range(0, 9000, 2):
            key(n, JAN + n) in seen  # noqa: B015 - lookups decode every block
        raise AssertionError("lookups passed")
    assert caught.value.path == WHERE and str(caught.value).startswith(WHERE + ": ")
    assert isinstance(caught.value, ValueError)
    return caught.value.why


def test_a_wrong_magic_is_damage():
    data, _ = sample_file()
    assert "magic" in damaged(b"SBSEEN2\n" + data[8:])
    assert "magic" in damaged(b"garbage" + data)


def test_a_truncated_file_is_damage_wherever_it_is_cut():
    data, _ = sample_file()
    head = len(MAGIC) + HEAD.size
    for cut in (0, 5, len(MAGIC), head - 1, head + 3, head + ENTRY.size * 2, len(data) - 1, len(data) // 2):
        damaged(data[:cut])
    damaged(data + b"\0")                            # or extended


def test_a_flipped_byte_anywhere_is_damage():
    data, _ = sample_file()
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= 0x10
        damaged(bytes(flipped))


def test_a_zeroed_region_is_damage():
    data, _ = sample_file()
    head = len(MAGIC) + HEAD.size + ENTRY.size * 3
    for start, size in ((0, 8), (len(MAGIC), HEAD.size), (len(MAGIC) + HEAD.size, ENTRY.size), (head, 64),
                        (head + 10, 200), (len(data) - 40, 40)):
        zeroed = bytearray(data)
        zeroed[start:start + size] = bytes(size)
        damaged(bytes(zeroed))


def test_a_file_under_another_months_name_is_damage():
    data, _ = sample_file()
    assert "holds month" in damaged(data, month="2024-02")


def test_a_damaged_block_is_never_copied_into_a_new_file():
    data, _ = sample_file()
    broken = bytearray(data)
    broken[-5] ^= 0xFF                               # the last block's payload
    seen = SeenShard.from_bytes("2024-01", bytes(broken), WHERE)
    seen.add(key(1, JAN + 1))                        # touches the first block only
    with pytest.raises(Damaged, match="fails its checksum"):
        seen.to_bytes()
    with pytest.raises(Damaged):
        seen.verify()


def test_a_block_whose_checksum_matches_but_whose_content_lies_is_damage():
    data, _ = sample_file()
    seen = SeenShard.from_bytes("2024-01", data, WHERE)
    block = min(seen._index)
    count, offset, size, _ = seen._index[block]
    payload = zlib.compress(zlib.decompress(data[offset:offset + size])[:-6])   # one exception entry short
    entries = [(b, c, s, crc) for b, (c, _, s, crc) in sorted(seen._index.items())]
    entries[0] = (block, count, len(payload), zlib.crc32(payload))
    forged = seen_mod._header("2024-01", entries) + payload + data[offset + size:]
    assert "identities" in damaged(forged)


# ---- upgrade from the old format (state/seen/YYYY-MM.bloom, by End month) -----------------------------

def write_v1(keys, fp_rate=1e-4):
    """A format 1 file as the first release wrote it: one filter, one exact record for the month."""
    keys = sorted(keys)
    capacity = max(len(keys), 1024)
    m, k = legacy_seen.bloom_bits(capacity, fp_rate), 13
    ids = [x >> 32 for x in keys]
    submits = [x & 0xFFFFFFFF for x in keys]
    id_deltas = array("Q", ids[:1] + [b - a for a, b in zip(ids, ids[1:])])
    submit_deltas = array("q", submits[:1] + [b - a for a, b in zip(submits, submits[1:])])
    header = {"month": "2024-01", "k": k, "m": m, "n": len(keys), "capacity": capacity, "fp_rate": fp_rate}
    exact = zlib.compress(id_deltas.tobytes() + submit_deltas.tobytes())
    return b"".join((legacy_seen.MAGIC_V1, json.dumps(header, sort_keys=True).encode(), b"\n",
                     bytes(legacy_seen.bloom_of(keys, m, k)), exact))


def old_root(tmp_path):
    """A cluster's state/seen as the old collector left it: format 2 files by End month (one identity in
    two of them, as the End-month bug left it), a format 1 file, requeued runs across months."""
    paths = ClusterPaths(str(tmp_path / "root"), "hammer")
    paths.make_dirs()
    by_end = {
        "2024-01": [key(n, JAN + 10 * n) for n in range(1000, 9000)] + [key(1500, JAN + 86400 * 9)],
        "2024-02": [key(n, JAN + 10 * n) for n in range(9000, 12000)] + [key(1000, JAN + 10000)]
                   + [key(n, FEB + n) for n in range(12000, 20000, 3)],
        "2024-03": [key(n, FEB + n) for n in range(20000, 30000)] + [key(12000, FEB + 12000)],  # in two months
    }
    for month, keys in sorted(by_end.items()):
        old = legacy_seen.SeenMonth(month, 1e-4)
        for k in keys:
            old.add(k)
        with open(paths.legacy_seen(month), "wb") as handle:
            old.write(handle)
    v1 = [key(n, FEB - 100 + n % 50) for n in range(40000, 45000)]
    with open(paths.legacy_seen("2023-12"), "wb") as handle:
        handle.write(write_v1(v1))
    every = set(v1)
    for keys in by_end.values():
        every.update(keys)
    return paths, every


def stored(paths):
    """{file name: identities} of the format 3 files, and the old files' names."""
    names = sorted(n for n in os.listdir(paths.seen_dir) if not n.startswith("."))
    new = {}
    for name in names:
        if name.endswith(".seen"):
            month = name[len("submit-"):-len(".seen")]
            shard = SeenShard.open(month, paths.seen(month))
            new[month] = list(shard.keys())
            assert all(shard_of(k) == month for k in new[month])
            shard.close()
    return new, [n for n in names if n.endswith(".bloom")]


def test_an_old_root_is_upgraded_with_nothing_lost_and_nothing_twice(tmp_path):
    paths, every = old_root(tmp_path)
    assert seen_mod.upgrade(paths) == 4
    new, old = stored(paths)
    assert old == [] and sorted(new) == ["2024-01", "2024-02"]
    found = [k for keys in new.values() for k in keys]
    assert sorted(found) == sorted(every) and len(found) == len(set(found))
    assert seen_mod.upgrade(paths) == 0
    assert not [n for n in os.listdir(paths.seen_dir) if n.startswith(".")]   # no scratch left


def test_old_files_written_after_an_upgrade_are_merged_into_the_new_ones(tmp_path):
    paths, every = old_root(tmp_path)
    seen_mod.upgrade(paths)
    late = legacy_seen.SeenMonth("2024-04", 1e-4)     # an older collector ran again
    for k in (key(30000, FEB + 30000), key(1000, JAN + 10000)):
        late.add(k)
    with open(paths.legacy_seen("2024-04"), "wb") as handle:
        late.write(handle)
    assert seen_mod.upgrade(paths) == 1
    new, old = stored(paths)
    assert old == [] and sorted(k for keys in new.values() for k in keys) == sorted(every | {key(30000, FEB + 30000)})


class Killed(BaseException):
    pass


def test_an_upgrade_killed_at_any_file_operation_leaves_the_old_files_or_the_new_ones(tmp_path, monkeypatch):
    point = [0, 0]

    def crash(label):
        point[1] += 1
        if point[1] == point[0]:
            raise Killed(label)
    monkeypatch.setattr(files, "crashpoint", crash)
    for n in range(1, 100):
        point[:] = [n, 0]
        paths, every = old_root(tmp_path / str(n))
        try:
            seen_mod.upgrade(paths)
        except Killed:
            pass
        else:
            assert n > 2
            break
        point[0] = 0
        files.recover(paths)                          # the next run: finish the journal or sweep the temps
        new, old = stored(paths)
        if old:
            assert len(old) == 4 and new == {}
        else:
            assert sorted(k for keys in new.values() for k in keys) == sorted(every)
        assert not [x for x in os.listdir(paths.seen_dir) if x.startswith(".")]
        seen_mod.upgrade(paths)
        new, old = stored(paths)
        assert old == [] and sorted(k for keys in new.values() for k in keys) == sorted(every)
    else:
        raise AssertionError("the upgrade never finished")


def test_a_damaged_old_file_stops_the_upgrade_naming_it_and_changes_nothing(tmp_path):
    paths, _ = old_root(tmp_path)
    path = paths.legacy_seen("2024-02")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-20])
    before = sorted(os.listdir(paths.seen_dir))
    with pytest.raises(Damaged, match="2024-02.bloom"):
        seen_mod.upgrade(paths)
    assert sorted(os.listdir(paths.seen_dir)) == before


# ---- through the collector -----------------------------------------------------------------------------

def test_a_root_written_by_the_old_collector_upgrades_on_its_next_run_exactly(sandbox):
    """Backfill, then turn state/seen into what the old collector wrote (format 2 files by End month, with
    its own writer); a re-read then counts nothing, changes no rollup, and leaves the very files a fresh
    root gets."""
    import oracle
    from conftest import GOLDEN
    from test_collector import backfill
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    assert backfill(sandbox)[0] == 0
    paths = ClusterPaths(sandbox.root, "hammer")
    fresh, agg = sandbox.files("state/seen", mask_asof=False), sandbox.files("agg")
    end_month = {int(r["JobIDRaw"]) << 32 | int(r["Submit"]): r["End"] for r in oracle.load_rows(
        os.path.join(GOLDEN, "hammer.db")) if r["JobIDRaw"].isdigit() and r["End"].isdigit()}
    by_end = {}
    for month in {name[len("submit-"):-len(".seen")] for name in fresh}:
        shard = SeenShard.open(month, paths.seen(month))
        for k in shard.keys():
            by_end.setdefault(seen_mod.month_of_epoch(int(end_month[k])), []).append(k)
        shard.close()
        os.unlink(paths.seen(month))
    assert len(by_end) > 1
    for month, keys in by_end.items():
        old = legacy_seen.SeenMonth(month, 1e-4)
        for k in keys:
            old.add(k)
        with open(paths.legacy_seen(month), "wb") as handle:
            old.write(handle)
    code, out, err = backfill(sandbox, "--since", "2024-01", "-v")
    assert code == 0 and "upgraded" in out, err
    assert re.search(r"\b0 new job\(s\)", out), out
    assert sandbox.files("agg") == agg
    assert sandbox.files("state/seen", mask_asof=False) == fresh


def test_the_same_identity_returned_with_an_end_in_another_month_counts_once(sandbox):
    from test_collector import HEADER, T0, iso, job_line
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    sandbox.write_db("\n".join([HEADER, job_line("800", "erin", "COMPLETED", T0 - 7200, T0 - 3600, 3600)]) + "\n")
    assert sandbox.run("backfill", now=iso(T0), options=opts)[0] == 0
    later = T0 + 30 * 86400                         # the record comes back with an End in May
    sandbox.write_db("\n".join([HEADER, job_line("800", "erin", "COMPLETED", later - 7200, later - 3600, 3600)])
                     + "\n")
    assert sandbox.run("backfill", "--since", "2024-04", now=iso(later), options=opts)[0] == 0
    assert sandbox.alltime()["erin"]["jobs"] == 1
    requeued = job_line("800", "erin", "COMPLETED", later - 1800, later - 1200, 600, submit=later - 2000)
    sandbox.write_db("\n".join([HEADER, requeued]) + "\n")   # another run of job 800: another identity
    assert sandbox.run("backfill", "--since", "2024-05", now=iso(later), options=opts)[0] == 0
    assert sandbox.alltime()["erin"]["jobs"] == 2


def test_a_damaged_seen_file_is_kept_as_bad_named_once_and_its_month_re_pulled(sandbox):
    """Damage is never fatal (issue 14 §1, collect.heal): quarantined, re-pulled, nothing counted twice."""
    from test_collector import HEADER, T0, iso, job_line
    opts = ("rate_limit_per_min=0", "backfill_start=2024-04")
    sandbox.write_db("\n".join([HEADER, job_line("800", "erin", "COMPLETED", T0 - 7200, T0 - 3600, 3600)]) + "\n")
    assert sandbox.run("backfill", now=iso(T0), options=opts)[0] == 0
    path = ClusterPaths(sandbox.root, "hammer").seen("2024-04")
    data = bytearray(open(path, "rb").read())
    data[-3:] = bytes(3)                            # zeroed bytes in the only block
    open(path, "wb").write(bytes(data))
    code, out, err = sandbox.run("backfill", "--since", "2024-04", now=iso(T0), options=opts)
    named = [line for line in err.splitlines() if "submit-2024-04.seen" in line]
    assert code == 0 and len(named) == 1 and "checksum" in named[0] and "kept as" in named[0], err
    assert open(path + ".bad", "rb").read() == bytes(data)
    assert sandbox.monthly()["2024-04"]["erin"]["jobs"] == 1 and os.path.exists(path)


def test_a_damaged_format_1_file_stops_the_upgrade_naming_it(tmp_path):
    paths, _ = old_root(tmp_path)
    path = paths.legacy_seen("2023-12")
    with open(path, "wb") as handle:     # Submit deltas that run below zero: a record no release wrote
        handle.write(write_v1([key(5, 10), key(6, 3)])[:-1] + b"x")
    with pytest.raises(Damaged, match="2023-12.bloom"):
        seen_mod.upgrade(paths)
    bad = write_v1([key(5, 10), key(6, 3)])
    header_end = bad.index(b"\n", len(legacy_seen.MAGIC_V1)) + 1
    m = json.loads(bad[len(legacy_seen.MAGIC_V1):header_end])["m"]
    ids = array("Q", [5, 1])
    submits = array("q", [10, -20])                  # Submit 10 - 20 < 0
    with open(path, "wb") as handle:
        handle.write(bad[:header_end + (m + 7) // 8] + zlib.compress(ids.tobytes() + submits.tobytes()))
    with pytest.raises(Damaged, match="out of range"):
        seen_mod.upgrade(paths)
    assert len([n for n in os.listdir(paths.seen_dir) if n.endswith(".bloom")]) == 4

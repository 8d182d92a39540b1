"""Dedupe: a Bloom "maybe" is always confirmed exactly; files round-trip; damage is detected; the file
depends only on its keys; format 1 files are still read."""
import json
import random
import zlib
from array import array

import pytest

from sb.collect import seen as seen_mod
from sb.collect.seen import BLOCK_SHIFT, MAGIC_V1, SeenMonth, bloom_bits, bloom_has, bloom_of


def key(job_id, submit=1700000000):
    return job_id << 32 | submit


def test_added_keys_are_seen_and_others_are_not_even_when_the_bloom_says_maybe():
    seen = SeenMonth("2024-01", 0.3)   # a very leaky filter: lots of false positives
    for n in range(5000):
        seen.add(key(n))
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 0.3, "f")
    assert all(key(n) in restored for n in range(5000))
    strangers = [key(n, 1600000000) for n in range(5000)]
    assert sum(restored.maybe(k) for k in strangers) > 100       # the filter alone would drop these…
    assert not any(k in restored for k in strangers)               # …the exact record never does


def test_same_job_id_with_another_submit_is_another_identity():
    seen = SeenMonth("2024-01", 1e-4)
    seen.add(key(42, 1700000000))
    assert key(42, 1700000000) in seen and key(42, 1700000100) not in seen
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 1e-4, "f")
    assert key(42, 1700000000) in restored and key(42, 1700000100) not in restored


def test_months_written_again_and_again_keep_every_key():
    data, everything = SeenMonth("2024-01", 1e-4).to_bytes(), []
    for round_no in range(4):                       # four commits of a growing month
        seen = SeenMonth.from_bytes("2024-01", data, 1e-4, "f")
        fresh = [key(n, 1700000000 + round_no) for n in range(round_no * 1500, (round_no + 1) * 1500)]
        assert not any(k in seen for k in fresh)
        for k in fresh:
            seen.add(k)
        everything += fresh
        data = seen.to_bytes()
    restored = SeenMonth.from_bytes("2024-01", data, 1e-4, "f")
    assert restored.count == 6000
    assert all(restored.maybe(k) for k in everything)         # the filters cover every key…
    assert all(k in restored for k in everything)             # …and the exact record confirms them


def test_the_file_depends_only_on_its_keys_not_on_how_many_commits_built_it():
    rng = random.Random(5)
    keys = rng.sample([key(n, 1700000000 + n % 7) for n in range(40000)], 12000)   # ~10 blocks, any order
    at_once = SeenMonth("2024-01", 1e-4)
    for k in keys:
        at_once.add(k)
    data = SeenMonth("2024-01", 1e-4).to_bytes()
    for start in range(0, len(keys), 1000):         # twelve commits, each touching blocks all over
        piece = SeenMonth.from_bytes("2024-01", data, 1e-4, "f")
        for k in keys[start:start + 1000]:
            assert k not in piece
            piece.add(k)
        data = piece.to_bytes()
    assert data == at_once.to_bytes()


def test_a_reader_keeps_a_bounded_number_of_blocks_in_memory():
    seen = SeenMonth("2024-01", 1e-4)
    blocks = seen_mod.CACHED_BLOCKS * 3
    for n in range(blocks):
        seen.add(key(n << (BLOCK_SHIFT - 32)))      # one job id per block
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 1e-4, "f")
    assert all(key(n << (BLOCK_SHIFT - 32)) in restored for n in range(blocks))
    assert len(restored._decoded) <= seen_mod.CACHED_BLOCKS and len(restored._blooms) <= seen_mod.CACHED_BLOCKS
    assert all(key(n << (BLOCK_SHIFT - 32)) in restored for n in reversed(range(blocks)))   # evicted ones reload


def test_file_header_names_k_and_m_and_the_count():
    seen = SeenMonth("2024-01", 1e-4)
    for n in range(10):
        seen.add(key(n))
    data = seen.to_bytes()
    header = data.split(b"\n")[1].decode()
    assert '"k": 13' in header and '"m": ' in header and '"n": 10' in header


def test_damaged_files_are_refused():
    seen = SeenMonth("2024-01", 1e-4)
    seen.add(key(1))
    data = seen.to_bytes()
    with pytest.raises(ValueError):
        SeenMonth.from_bytes("2024-01", b"garbage" + data, 1e-4, "f")
    with pytest.raises(ValueError):
        SeenMonth.from_bytes("2024-01", data[:40], 1e-4, "f")
    with pytest.raises(ValueError, match="seen/2024-01.bloom: .* truncated or damaged"):
        SeenMonth.from_bytes("2024-01", data[:-3], 1e-4, "seen/2024-01.bloom")
    flipped = data[:-6] + bytes(6)                  # the right length, a corrupt exact record
    broken = SeenMonth.from_bytes("2024-01", flipped, 1e-4, "seen/2024-01.bloom")
    with pytest.raises(ValueError, match="seen/2024-01.bloom: exact record of block 0 is damaged"):
        key(1) in broken


def test_bloom_false_positive_rate_is_near_its_target():
    m = bloom_bits(20000, 0.01)
    bits = bloom_of([key(n) for n in range(20000)], m, 7)
    false = sum(bloom_has(bits, m, 7, key(n, 1)) for n in range(20000))
    assert false / 20000 < 0.02


def test_every_month_is_sized_to_its_keys():
    seen = SeenMonth("2024-01", 1e-4)
    for n in range(20000):
        seen.add(key(n))
    data = seen.to_bytes()
    header = json.loads(data.split(b"\n")[1])
    assert header["m"] / 20000 == pytest.approx(19.2, rel=0.01)    # 2.4 B/job of Bloom at p = 1e-4…
    assert len(data) / 20000 < 2.4 + 1.0                           # …plus the exact record and the index


def encode_v1(keys):
    """Format 1's exact record, as the previous release wrote it: zlib of job-id and submit deltas."""
    ids = array("Q", (k >> 32 for k in keys))
    submits = array("q", (k & 0xFFFFFFFF for k in keys))
    id_deltas = array("Q", [ids[0]] if ids else []) + array("Q", (b - a for a, b in zip(ids, ids[1:])))
    submit_deltas = array("q", submits[:1]) + array("q", (b - a for a, b in zip(submits, submits[1:])))
    return zlib.compress(id_deltas.tobytes() + submit_deltas.tobytes(), 6)


def write_v1(keys, fp_rate=1e-4):
    """A format 1 file as the previous release wrote it: one filter, one exact record for the month."""
    keys = sorted(keys)
    capacity = max(len(keys), 1024)
    m = bloom_bits(capacity, fp_rate)
    k = 13
    header = {"month": "2024-01", "k": k, "m": m, "n": len(keys), "capacity": capacity, "fp_rate": fp_rate}
    return b"".join((MAGIC_V1, json.dumps(header, sort_keys=True).encode(), b"\n", bytes(bloom_of(keys, m, k)),
                     encode_v1(keys)))


def test_format_1_files_are_read_and_rewritten_as_format_2_with_every_key():
    old = [key(n) for n in range(0, 30000, 3)]
    legacy = SeenMonth.from_bytes("2024-01", write_v1(old), 1e-4, "f")
    assert all(k in legacy for k in old) and key(1) not in legacy
    legacy.add(key(1))
    data = legacy.to_bytes()
    assert data.startswith(seen_mod.MAGIC)
    fresh = SeenMonth("2024-01", 1e-4)
    for k in old + [key(1)]:
        fresh.add(k)
    assert data == fresh.to_bytes()
    broken = write_v1(old)[:-5]
    with pytest.raises(ValueError, match="exact record is damaged"):
        SeenMonth.from_bytes("2024-01", broken, 1e-4, "f")


def test_a_changed_rate_rebuilds_every_block_and_keeps_every_key():
    seen = SeenMonth("2024-01", 1e-4)
    for n in range(9000):
        seen.add(key(n))
    loose = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 1e-2, "f")
    loose.add(key(9000))
    data = loose.to_bytes()
    header = json.loads(data.split(b"\n")[1])
    assert header["k"] == 7 and header["fp_rate"] == 1e-2 and header["n"] == 9001
    restored = SeenMonth.from_bytes("2024-01", data, 1e-2, "f")
    assert all(key(n) in restored and restored.maybe(key(n)) for n in range(9001))


def test_open_reads_a_file_and_a_missing_file_is_an_empty_month(tmp_path):
    path = str(tmp_path / "2024-01.bloom")
    empty = SeenMonth.open("2024-01", path, 1e-4)
    assert empty.count == 0 and key(1) not in empty
    empty.add(key(1))
    with open(path, "wb") as handle:
        empty.write(handle)
    again = SeenMonth.open("2024-01", path, 1e-4)
    assert again.count == 1 and key(1) in again
    again.close()
    with open(path, "rb") as handle:
        assert handle.read(len(seen_mod.MAGIC)) == seen_mod.MAGIC


def test_requeued_runs_of_one_job_id_are_told_apart_inside_a_block():
    seen = SeenMonth("2024-01", 1e-4)
    runs = [key(4097, 1700000000 + 60 * n) for n in range(0, 10, 2)]   # five runs of job 4097
    for k in runs + [key(4096), key(4098)]:
        seen.add(k)
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 1e-4, "f")
    assert all(k in restored for k in runs) and key(4096) in restored and key(4098) in restored
    assert not any(key(4097, 1700000000 + 60 * n) in restored for n in range(1, 10, 2))
    assert key(4097, 1700000000 + 600) not in restored and key(4099) not in restored

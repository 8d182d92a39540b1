"""Dedupe: a Bloom "maybe" is always confirmed exactly; files round-trip; damage is detected."""
import pytest

from sb.seen import Bloom, SeenMonth


def key(job_id, submit=1700000000):
    return job_id << 32 | submit


def test_added_keys_are_seen_and_others_are_not_even_when_the_bloom_says_maybe():
    seen = SeenMonth("2024-01", 0.3)   # a very leaky filter: lots of false positives
    for n in range(5000):
        seen.add(key(n))
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(), 0.3, "f")
    assert all(key(n) in restored for n in range(5000))
    strangers = [key(n, 1600000000) for n in range(5000)]
    assert sum(k in restored.bloom for k in strangers) > 100      # the filter alone would drop these…
    assert not any(k in restored for k in strangers)               # …the exact record never does


def test_same_job_id_with_another_submit_is_another_identity():
    seen = SeenMonth("2024-01", 1e-4)
    seen.add(key(42, 1700000000))
    assert key(42, 1700000000) in seen and key(42, 1700000100) not in seen


def test_months_written_again_and_again_keep_every_key_and_grow_the_filter():
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
    assert restored.count == 6000 and restored.bloom.capacity >= 6000
    assert all(k in restored.bloom for k in everything)       # the filter covers every key…
    assert all(k in restored for k in everything)             # …and the exact record confirms them


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
    broken = SeenMonth.from_bytes("2024-01", data[:-3], 1e-4, "seen/2024-01.bloom")
    with pytest.raises(ValueError, match="seen/2024-01.bloom: exact record is damaged"):
        key(1) in broken


def test_bloom_false_positive_rate_is_near_its_target():
    bloom = Bloom(20000, 0.01)
    for n in range(20000):
        bloom.add(key(n))
    false = sum(key(n, 1) in bloom for n in range(20000))
    assert false / 20000 < 0.02


def test_a_closed_month_is_sized_to_its_keys_and_an_open_one_has_room():
    seen = SeenMonth("2024-01", 1e-4)
    for n in range(20000):
        seen.add(key(n))
    open_size, closed_size = len(seen.to_bytes()), len(seen.to_bytes(closed=True))
    restored = SeenMonth.from_bytes("2024-01", seen.to_bytes(closed=True), 1e-4, "f")
    assert restored.bloom.capacity == 20000 and all(key(n) in restored for n in range(20000))
    assert closed_size < open_size * 0.6
    assert (closed_size - 10000) / 20000 < 2.4 + 1.0     # ≈ 2.4 B/job of Bloom at p = 1e-4, plus the exact record

"""Politeness: the per-minute limit holds across runs; backoff grows and resets; 0 turns waiting off."""
import pytest

from sb.collect.pacing import Deferred, Pacer


class Clock:
    def __init__(self, now=1000.0):
        self.now = now
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def pacer(tmp_path, clock, limit=2, max_wait=0.0):
    return Pacer(str(tmp_path / "pacing.json"), limit, 3600, clock, clock.sleep, max_wait)


def test_two_calls_a_minute_then_a_poll_defers(tmp_path):
    clock = Clock()
    first = pacer(tmp_path, clock)
    first.before_call()
    clock.now += 10
    first.before_call()
    clock.now += 10
    second_run = pacer(tmp_path, clock)           # a separate cron run sees the same history
    with pytest.raises(Deferred, match="next call in 40 s"):
        second_run.before_call()
    clock.now += 40
    second_run.before_call()


def test_backfill_sleeps_instead_of_deferring(tmp_path):
    clock = Clock()
    p = pacer(tmp_path, clock, max_wait=float("inf"))
    for _ in range(5):
        p.before_call()
    assert clock.slept == [60.0, 60.0] and clock.now == 1120.0    # calls at 0, 0, 60, 60, 120


def test_fractional_limit_spaces_calls(tmp_path):
    clock = Clock()
    p = pacer(tmp_path, clock, limit=0.5, max_wait=float("inf"))
    p.before_call()
    p.before_call()
    assert clock.slept == [120.0]


def test_backoff_doubles_is_capped_and_resets(tmp_path):
    clock = Clock()
    p = pacer(tmp_path, clock)
    waits = []
    for _ in range(8):
        p.failed()
        waits.append(p.backoff_wait())
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert pacer(tmp_path, clock).backoff_wait() == 3600       # remembered across runs
    p.succeeded()
    assert pacer(tmp_path, clock).backoff_wait() == 0


def test_zero_turns_all_waiting_off(tmp_path):
    clock = Clock()
    p = pacer(tmp_path, clock, limit=0)
    for _ in range(50):
        p.before_call()
    p.failed()
    assert clock.slept == [] and p.backoff_wait() == 0

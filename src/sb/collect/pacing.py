"""Politeness: at most rate_limit_per_min sacct calls a minute per cluster, and backoff after failures.

Both are remembered in state/pacing.json, so the limits hold across separate cron runs.
"""
import json
import math

from sb.store.files import atomic_write, read_bytes


class Deferred(Exception):
    """Waiting for the next allowed call would take longer than this run may sleep."""


class Pacer:
    def __init__(self, path, limit_per_min, backoff_max, clock, sleep, max_wait, warn=None):
        self.path = path
        self.limit = limit_per_min
        self.backoff_max = backoff_max
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        data = read_bytes(path)
        try:
            self.state = json.loads(data.decode()) if data else {}
            problem = _shape_problem(self.state)
        except ValueError as err:  # UnicodeDecodeError included
            problem = str(err)
        if problem:  # pacing is advisory: a damaged file only resets the limiter
            (warn or print)("{} is damaged ({}); the rate limit and backoff start afresh".format(path, problem))
            self.state = {}
        self.state.setdefault("calls", [])
        self.state.setdefault("failures", 0)
        self.state.setdefault("next_try", 0)

    @property
    def enabled(self):
        return self.limit > 0

    def _window(self):
        """(calls allowed, per seconds): 2/min → 2 per 60 s; 0.5/min → 1 per 120 s."""
        allowed = max(1, int(math.floor(self.limit)))
        return allowed, 60.0 * allowed / self.limit

    def before_call(self):
        """Block (or raise Deferred) until a sacct call is allowed, then record it."""
        now = self.clock()
        if self.enabled:
            allowed, span = self._window()
            calls = [t for t in self.state["calls"] if now - t < span]
            if len(calls) >= allowed:
                wait = calls[-allowed] + span - now
                if wait > self.max_wait:
                    raise Deferred("rate limit: {} sacct calls in {:.0f} s already; next call in {:.0f} s".format(
                        len(calls), span, wait))
                self.sleep(wait)
                now = self.clock()
            self.state["calls"] = calls[-allowed:] + [now]
        self._save()

    def backoff_wait(self):
        """Seconds to wait before sacct may be tried again after failures (0 when off)."""
        if not self.enabled:
            return 0
        return max(0.0, self.state["next_try"] - self.clock())

    def failed(self):
        failures = self.state["failures"] + 1
        self.state["failures"] = failures
        self.state["next_try"] = self.clock() + min(self.backoff_max, 60 * 2 ** min(failures - 1, 20))
        self._save()

    def succeeded(self):
        if self.state["failures"]:
            self.state["failures"] = 0
            self.state["next_try"] = 0
            self._save()

    def daily_due(self, key, day):
        """True unless the daily job `key` (e.g. checking every home for an opt-out) already ran on `day`."""
        return self.state.get(key) != day

    def daily_done(self, key, day):
        self.state[key] = day
        self._save()

    def _save(self):
        atomic_write(self.path, json.dumps(self.state, sort_keys=True).encode())


def _time(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shape_problem(state):
    if not isinstance(state, dict):
        return "expected a JSON object"
    calls = state.get("calls", [])
    if not isinstance(calls, list) or not all(_time(t) for t in calls):
        return "'calls' is not a list of times"
    failures = state.get("failures", 0)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
        return "'failures' is not a count"
    if not _time(state.get("next_try", 0)):
        return "'next_try' is not a time"
    return None

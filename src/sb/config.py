"""Settings: defaults < ~/.slurm_scoreboard/config.yaml < SLURM_SB_<KEY> environment < command-line flags."""
import math
import os
import re

from sb import compat
from sb.timeutil import normalize_month, parse_when

DEFAULT_FAILURE_STATES = ("FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT")
DEFAULT_ROOT = "/depot/cms/top/awildrid/SlurmScoreboard"
DEFAULT_CONFIG = "~/.slurm_scoreboard/config.yaml"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_PLAIN_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")   # a decimal integer, read alike by YAML 1.1 and int()
KNOWN_STATES = ("BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
                "OUT_OF_MEMORY", "PREEMPTED", "REQUEUED", "TIMEOUT")


class ConfigError(ValueError):
    """A bad setting; the message names where it came from, the key, and what is allowed."""


def _number(low, integer=False, high=None):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
            raise ValueError("a whole number" if integer else "a number")
        if not math.isfinite(value):  # NaN passes every comparison; .inf breaks the pacing arithmetic
            raise ValueError("a finite number")
        if value < low or (high is not None and value >= high):
            raise ValueError("a number >= {}{}".format(low, "" if high is None else " and < {}".format(high)))
        return int(value) if integer else value
    return check


def _text(value):
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def _name(value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("a name of letters, digits, '_', '.', '-'")
    return value


def _start_date(value):
    """'2024-03' or '2024-03-15' (a YAML date too), kept in that form."""
    text = str(value)
    try:
        normalize_month(text)
        parse_when(text if text.count("-") == 2 else text + "-01")
    except ValueError:
        raise ValueError("YYYY-MM or YYYY-MM-DD")
    return text


def _names(value):
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("a list of names")
    return tuple(value)


def _flag(value):
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _states(value):
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of SLURM job states")
    states = [v.upper() for v in value]
    unknown = [s for s in states if s not in KNOWN_STATES]
    if unknown:
        raise ValueError("states from {}".format(", ".join(KNOWN_STATES)))
    return tuple(states)


# key: (default, validator, what it means) — the README's config table is checked against this.
KEYS = {
    "root": (DEFAULT_ROOT, _text, "shared directory holding every cluster's data"),
    "cluster": (None, _name, "this cluster's name as sacct -M knows it"),
    "poll_interval_sec": (600, _number(1, True), "how often cron runs poll; the board calls data stale after 3 of these"),
    "backfill_start": ("2000-01", _start_date, "first month the cold start reads (YYYY-MM or YYYY-MM-DD)"),
    "failure_states": (DEFAULT_FAILURE_STATES, _states, "job states counted as failures"),
    "count_cancelled_as_failure": (False, _flag, "count CANCELLED jobs as failures too"),
    "rate_limit_per_min": (2, _number(0), "most sacct calls a minute per cluster; 0 turns every wait off"),
    "backfill_sleep_sec": (10, _number(0), "pause between cold-start months"),
    "min_jobs": (3, _number(0, True), "jobs a user needs in a window to appear on its leaderboard"),
    "efficiency_min_core_hours": (10, _number(0), "core-hours a player (or group) needs in a window to be ranked "
                                  "on an efficiency or waste skill; below it the figure shows unranked"),
    "show_efficiency": (True, _flag, "show the efficiency and waste skills on the board (false hides them)"),
    "board_top": (100, _number(1, True), "rows per metric in the leaderboard files' boards (the table has everyone)"),
    "late_window_sec": (86400, _number(0, True), "how long after its End a job record may reach slurmdbd"),
    "settle_sec": (300, _number(0, True), "a job is read only once its End is this old, so its steps' "
                   "memory figures (recorded just after the job's end) are in"),
    "sacct_timeout_sec": (900, _number(1), "a sacct call running longer is killed and its window retried later"),
    "sacct": ("sacct", _text, "sacct command (name on PATH or full path)"),
    "squeue": ("squeue", _text, "squeue command (name on PATH or full path)"),
    "bloom_fp_rate": (1e-4, _number(1e-9, high=0.5), "Bloom filter false-positive rate (confirmed exactly)"),
    "max_window_days": (31, _number(1, True), "longest catch-up window asked of sacct in one call"),
    "backoff_max_sec": (3600, _number(0), "longest wait after repeated sacct failures"),
    "home_roots": (("/home",), _names, "directories whose subdirectories are users' homes (discover)"),
    "uid_min": (1000, _number(0, True), "home directories owned by a lower uid are system accounts (discover)"),
    "uid_max": (60000, _number(0, True), "nor are uids from this one up (nobody is 65534) (discover)"),
    "exclude_users": ((), _names, "usernames discover never queues (service accounts)"),
    "discover_days": (30, _number(1, True), "how far back discover looks in accounting for users"),
}


class Settings(dict):
    """Validated settings; attribute access for readability (settings.rate_limit_per_min)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key)


def load(config_path=None, env=None, flags=None):
    """Merge every source, validating each value where it came from."""
    env = os.environ if env is None else env
    values = {key: spec[0] for key, spec in KEYS.items()}
    path = os.path.expanduser(config_path or env.get("SLURM_SB_CONFIG") or DEFAULT_CONFIG)
    explicit = bool(config_path or env.get("SLURM_SB_CONFIG"))
    for key, value in _read_file(path, explicit).items():
        values[key] = _check(key, value, path)
    for key in KEYS:
        raw = env.get("SLURM_SB_" + key.upper())
        if raw is not None:
            values[key] = _check(key, scalar(key, raw), "environment SLURM_SB_" + key.upper())
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = _check(key, value, "command line")
    return Settings(values)


def _read_file(path, explicit):
    if not os.path.exists(path):
        if explicit:
            raise ConfigError("{}: no such config file".format(path))
        return {}
    yaml = compat.yaml()
    try:
        with open(path) as handle:
            doc = yaml.safe_load(handle)
    except (OSError, IOError) as err:
        raise ConfigError("{}: cannot read ({})".format(path, err.strerror))
    except UnicodeDecodeError as err:
        raise ConfigError("{}: not a text file (byte {} is not UTF-8); it should hold 'key: value' lines".format(
            path, err.start))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = " line {}".format(mark.line + 1) if mark else ""
        raise ConfigError("{}{}: not valid YAML ({})".format(path, where, getattr(err, "problem", err)))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError("{}: expected 'key: value' lines, found a {}".format(path, type(doc).__name__))
    return doc


def scalar(key, raw):
    """A value given as text (environment, -o KEY=VALUE): YAML for numbers, flags and lists, but taken as
    it is for string settings, so `sacct=true` or `root=2024` stay strings."""
    if key in KEYS and isinstance(KEYS[key][0], str):
        return raw
    if _PLAIN_INT.match(raw):   # what YAML makes of it too, without the ~50 ms of importing it
        return int(raw)
    yaml = compat.yaml()
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _check(key, value, source):
    if key not in KEYS:
        raise ConfigError("{}: unknown key {!r} (known: {})".format(source, key, ", ".join(sorted(KEYS))))
    try:
        return KEYS[key][1](value)
    except ValueError as err:
        raise ConfigError("{}: {}: {!r} is not allowed; expected {}".format(source, key, value, err))

"""Settings: precedence, and errors that name the source, the key and what is allowed."""
import os
import subprocess
import sys

import pytest

from sb import config


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_defaults_then_file_then_env_then_flags(tmp_path):
    path = write(tmp_path, "root: /from/file\ncluster: hammer\nrate_limit_per_min: 5\nmin_jobs: 4\n")
    env = {"SLURM_SB_CONFIG": path, "SLURM_SB_RATE_LIMIT_PER_MIN": "1", "SLURM_SB_BACKFILL_SLEEP_SEC": "0"}
    s = config.load(env=env, flags={"min_jobs": 7, "root": None})
    assert (s.root, s.cluster, s.rate_limit_per_min, s.min_jobs, s.backfill_sleep_sec) == (
        "/from/file", "hammer", 1, 7, 0)
    assert s.failure_states == ("FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT")
    assert s.late_window_sec == 86400 and s.bloom_fp_rate == 1e-4


def test_missing_default_file_is_fine_but_a_named_one_is_not(tmp_path):
    assert config.load(env={"HOME": str(tmp_path)}).rate_limit_per_min == 2
    with pytest.raises(config.ConfigError, match="nope.yaml: no such config file"):
        config.load(str(tmp_path / "nope.yaml"), env={})


@pytest.mark.parametrize("text, message", [
    ("rate_limit_per_min: lots\n", r"config.yaml: rate_limit_per_min: 'lots' is not allowed; expected a number"),
    ("min_jobs: 2.5\n", "min_jobs: 2.5 is not allowed; expected a whole number"),
    ("backfill_start: 2024-13\n", "backfill_start: '2024-13' is not allowed; expected YYYY-MM or YYYY-MM-DD"),
    ("failure_states: [FAILED, EXPLODED]\n", "failure_states: .* expected states from BOOT_FAIL"),
    ("cluster: ../etc\n", "cluster: '../etc' is not allowed"),
    ("rate_limt_per_min: 3\n", "unknown key 'rate_limt_per_min' \\(known: backfill_sleep_sec"),
    ("count_cancelled_as_failure: maybe\n", "expected true or false"),
    ("root: [unclosed\n", "config.yaml line 2: not valid YAML"),
    ("- a list\n", "expected 'key: value' lines"),
])
def test_bad_config_names_file_key_and_allowed(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(write(tmp_path, text), env={})


def test_env_override_errors_name_the_variable():
    with pytest.raises(config.ConfigError, match="environment SLURM_SB_MIN_JOBS: min_jobs"):
        config.load(env={"SLURM_SB_MIN_JOBS": "-1", "HOME": "/nonexistent"})


def test_backfill_start_accepts_month_or_day(tmp_path):
    assert config.load(write(tmp_path, "backfill_start: 2024-03\n"), env={}).backfill_start == "2024-03"
    assert config.load(write(tmp_path, "backfill_start: 2024-03-15\n"), env={}).backfill_start == "2024-03-15"
    assert config.load(env={"SLURM_SB_FAILURE_STATES": "failed,timeout", "HOME": "/x"}).failure_states == (
        "FAILED", "TIMEOUT")


def test_text_settings_given_as_text_stay_text():
    s = config.load(env={"HOME": "/x", "SLURM_SB_SACCT": "true", "SLURM_SB_ROOT": "2024",
                         "SLURM_SB_MIN_JOBS": "5"})
    assert (s.sacct, s.root, s.min_jobs) == ("true", "2024", 5)


@pytest.mark.parametrize("text, key", [("rate_limit_per_min: .inf\n", "rate_limit_per_min"),
                                       ("rate_limit_per_min: .nan\n", "rate_limit_per_min"),
                                       ("sacct_timeout_sec: .nan\n", "sacct_timeout_sec"),
                                       ("backoff_max_sec: -.inf\n", "backoff_max_sec")])
def test_infinite_and_nan_numbers_are_refused_in_one_line(tmp_path, text, key):
    expected = r"config.yaml: {}: .* is not allowed; expected a finite number".format(key)
    with pytest.raises(config.ConfigError, match=expected):
        config.load(write(tmp_path, text), env={})


def test_the_environment_and_command_line_refuse_nan_too():
    with pytest.raises(config.ConfigError, match="environment SLURM_SB_SACCT_TIMEOUT_SEC: sacct_timeout_sec"):
        config.load(env={"SLURM_SB_SACCT_TIMEOUT_SEC": config.scalar("sacct_timeout_sec", "nan")})
    with pytest.raises(config.ConfigError, match="command line: rate_limit_per_min"):
        config.load(env={}, flags={"rate_limit_per_min": float("inf")})


def test_a_binary_config_names_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    with pytest.raises(config.ConfigError, match=r"config.yaml: not a text file"):
        config.load(str(path), env={})


def test_a_plain_integer_option_reads_as_yaml_would_without_importing_it():
    import yaml
    for raw in ("0", "600", "-3", "010", "0x10", "1_000", "+5", "1e3", "12\n", "true", "[1, 2]"):
        assert config.scalar("rate_limit_per_min", raw) == yaml.safe_load(raw), raw
    code = ("import sys; from sb import config; config.scalar('rate_limit_per_min', '600'); "
            "print(any('yaml' in m for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.stdout.strip() == "False"

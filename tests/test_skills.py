"""Skills: the OSRS level curve against the published hiscores table, humanized XP, the theme file."""
import json
import os

import pytest

from sb.scores import skills

# Published OSRS experience table (oldschool.runescape.wiki "Experience"): level → XP needed.
PUBLISHED = {1: 0, 2: 83, 3: 174, 10: 1154, 20: 4470, 30: 13363, 40: 37224, 50: 101333, 60: 273742,
             70: 737627, 80: 1986068, 90: 5346332, 92: 6517253, 99: 13034431}


@pytest.mark.parametrize("lvl, xp", sorted(PUBLISHED.items()))
def test_levels_follow_the_published_osrs_table(lvl, xp):
    assert skills.level(xp) == lvl
    if xp:
        assert skills.level(xp - 1) == lvl - 1


def test_level_caps_at_99_and_starts_at_1():
    assert skills.level(0) == 1
    assert skills.level(200000000) == 99


@pytest.mark.parametrize("value, memory, text", [
    (0, False, "0"), (0.5, False, "0.5"), (7, False, "7"), (12.34, False, "12.3"), (96.7, False, "96.7"),
    (99.96, False, "100"), (812.4, False, "812"), (999.4, False, "999"), (999.5, False, "1k"),
    (1234, False, "1.23k"), (12345, False, "12.3k"), (1.2e6, False, "1.2M"), (3.456e9, False, "3.46G"),
    (0, True, "0"), (512, True, "512M"), (1536, True, "1.5G"), (742000, True, "725G"), (2 * 1024 ** 2, True, "2T"),
])
def test_humanize_keeps_three_digits_and_five_characters(value, memory, text):
    assert skills.humanize(value, memory) == text
    assert len(text) <= 5


@pytest.mark.parametrize("value, memory, text", [
    (0.0022, False, "<0.01"), (0.001, True, "<0.01"), (0.004, False, "<0.01"), (0.006, False, "0.01"),
    (0.0345, False, "0.03"),
])
def test_a_nonzero_value_never_shows_as_zero(value, memory, text):
    assert skills.humanize(value, memory) == text


def test_values_read_with_their_unit_and_xp_is_exact_with_separators():
    # issue 15 item 14: "2.07e5 CPU-h XP" was core-hours in scientific notation; the XP is 10x that
    assert skills.amount_text("clock_hours", 207000.4) == "207,000 CPU-h"
    assert skills.amount_text("gpu_clock_hours", 1234) == "1,234 GPU-h"
    assert skills.amount_text("gpu_clock_hours", 0.0022) == "<0.01 GPU-h"
    assert skills.amount_text("elapsed_hours", 4.5) == "4.5 h"
    assert skills.amount_text("jobs", 12) == "12 jobs"
    assert skills.amount_text("sum_max_mem_mb", 1536) == "1.5GB max RSS"
    assert skills.xp_text(2070004) == "2,070,004"
    # 10,000 XP is level 27; level 28 needs 10,824 (published table): 824 to go; none past 99
    assert skills.level(10000) == 27 and skills.xp_to_next(10000) == 824
    assert skills.xp_to_next(13034431) is None and skills.xp_to_next(0) == 83


def test_only_achievements_have_levels_and_make_the_total():
    assert skills.ACHIEVEMENTS == ("clock_hours", "elapsed_hours", "gpu_clock_hours", "gpu_elapsed_hours", "jobs",
                                   "gpu_jobs")
    # 500 failed jobs and 100 TB requested: no level gained anywhere (all six achievements at level 1)
    failing = [500, 0, 500, 0, 0, 0, 0, 100 * 1024 ** 3, 0, 0]
    theme = skills.Theme()
    assert theme.total_level([0] * 10) == 6
    # 500 jobs x 100 XP = 50,000 XP: level 42 (47,142 <= 50,000 < 52,014); the rest level 1
    assert theme.total_level(failing) == 42 + 5
    assert theme.total_xp(failing) == 50000
    # 1,000 CPU-h (10,000 XP) + 10 h elapsed (200 XP)
    assert theme.total_xp([0, 0, 0, 36000, 3600000, 0, 0, 0, 0, 0]) == 10200


def test_theme_xp_per_unit_changes_levels(tmp_path):
    # 10 jobs: 1,000 XP at the default 100 XP a job (level 9: 969 <= 1000 < 1154), 50 XP at 5 a job (level 1)
    counters = [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert skills.Theme().level("jobs", counters) == 9
    os.makedirs(str(tmp_path / "ui"))
    (tmp_path / "ui" / "theme.json").write_text(json.dumps({"xp_per_unit": {"jobs": 5}}))
    theme = skills.load_theme(str(tmp_path))
    assert theme.level("jobs", counters) == 1
    # one CPU-hour is 3600 CPU-seconds in the counters: 120 CPU-h at 10 XP/h = 1,200 XP = level 10
    assert theme.level("clock_hours", [0, 0, 0, 0, 120 * 3600, 0, 0, 0, 0, 0]) == 10
    assert theme.total_level(counters) == 6         # every achievement at level 1


@pytest.mark.parametrize("content, words, jobs_rate", [
    ("{not json", "not valid JSON", 100),
    ('{"xp_per_unit": {"cpu": 3, "jobs": 5}}', "unknown skill 'cpu'", 5),
    ('{"xp_per_unit": {"jobs": "lots"}}', "xp_per_unit.jobs is 'lots'", 100),
    ('{"xp_per_unit": [1]}', "expected", 100),
    ('{"xp_per_units": {"jobs": 5}}', "unknown key 'xp_per_units'", 100),
    ('{"xp_per_unit": {"failed_jobs": 5, "jobs": 7}}', "a plain column, no level", 7),
])
def test_a_bad_theme_warns_in_one_line_naming_the_file_and_keeps_the_defaults(tmp_path, content, words, jobs_rate):
    os.makedirs(str(tmp_path / "ui"))
    (tmp_path / "ui" / "theme.json").write_text(content)
    theme = skills.load_theme(str(tmp_path))        # never fatal: the board opens for everyone
    assert len(theme.problems) == 1
    assert words in theme.problems[0] and "theme.json" in theme.problems[0]
    assert "\n" not in theme.problems[0]
    assert theme.xp_per_unit["jobs"] == jobs_rate and theme.xp_per_unit["clock_hours"] == 10

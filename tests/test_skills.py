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


def test_xp_text_reads_like_the_issue_example():
    assert skills.xp_text("gpu_clock_hours", 1234) == "1.23e3 GPU-h"
    assert skills.xp_text("jobs", 12) == "12 jobs"
    assert skills.xp_text("sum_max_mem_mb", 1536) == "1.5GB"


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
    assert theme.total_level(counters) == 10        # every skill at level 1


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ('{"xp_per_unit": {"cpu": 3}}', "unknown skill 'cpu'"),
    ('{"xp_per_unit": {"jobs": "lots"}}', "xp_per_unit.jobs is 'lots'"),
    ('{"xp_per_unit": [1]}', "expected"),
])
def test_a_bad_theme_is_one_line_naming_the_file(tmp_path, content, words):
    os.makedirs(str(tmp_path / "ui"))
    (tmp_path / "ui" / "theme.json").write_text(content)
    with pytest.raises(ValueError) as caught:
        skills.load_theme(str(tmp_path))
    assert words in str(caught.value) and "theme.json" in str(caught.value)
    assert "\n" not in str(caught.value)

"""Board vocabulary: each metric as an OSRS "skill", its XP per unit, the real OSRS level curve, and humanized values.

Six metrics are achievements, with XP and a level (CPU-h, Elap-h, GPU-h, GPUel-h, Jobs, GPUjobs); the other
four (Fails, ReqMem, MaxRSS, AveRSS) are plain columns: failing jobs or asking for memory must not raise a
level, so they add nothing to the total. The theme file (`<root>/ui/theme.json`) may set XP per unit of any
achievement, e.g. {"xp_per_unit": {"jobs": 50}}; what is wrong in it is a warning and its default is used.
"""
import bisect
import json
import os

from sb.store.counters import COLUMNS, SCALES, derived

# metric, counter column, header label, long name, unit shown with the value, default XP per unit (None: a
# plain column with no level), memory?
# A level-99 user has 13,034,431 XP: with these defaults that is ~1.3M CPU-hours, ~65k GPU-hours or
# 130k jobs, a lifetime's heavy use on one cluster; everyday users land in the 40s-70s.
SKILLS = (
    ("clock_hours", "cpu_s", "CPU-h", "CPU hours", "CPU-h", 10.0, False),
    ("elapsed_hours", "elapsed_s", "Elap-h", "elapsed hours", "h", 20.0, False),
    ("gpu_clock_hours", "gpu_s", "GPU-h", "GPU hours", "GPU-h", 200.0, False),
    ("gpu_elapsed_hours", "gpu_elapsed_s", "GPUel-h", "GPU elapsed hours", "h", 250.0, False),
    ("jobs", "jobs", "Jobs", "jobs", "jobs", 100.0, False),
    ("gpu_jobs", "gpu_jobs", "GPUjobs", "GPU jobs", "jobs", 1000.0, False),
    ("failed_jobs", "failed_jobs", "Fails", "failed jobs", "failed jobs", None, False),
    ("sum_req_mem_mb", "req_mem_b", "ReqMem", "requested memory", "requested", None, True),
    ("sum_max_mem_mb", "max_mem_b", "MaxRSS", "max RSS", "max RSS", None, True),
    ("sum_avg_mem_mb", "avg_mem_b", "AveRSS", "average RSS", "average RSS", None, True),
)
METRIC_NAMES = tuple(s[0] for s in SKILLS)
# The second page: efficiency and waste, made of the counters (store.counters.derived). The four ratios get
# a level (efficiency_level); waste and wait are plain columns. They rank only players with
# efficiency_min_core_hours core-hours in the window; others show their figure greyed and unranked.
EFFICIENCY_SKILLS = (
    ("cpu_efficiency", "CPU%", "CPU efficiency", True),
    ("mem_efficiency", "Mem%", "memory efficiency", True),
    ("time_efficiency", "Time%", "time-limit accuracy", True),
    ("gpu_efficiency", "GPU%", "GPU efficiency", True),
    ("cpu_wasted_hours", "WasteC", "CPU-hours wasted", False),
    ("mem_wasted_gb_hours", "WasteM", "memory GB-hours wasted", False),
    ("avg_wait_hours", "Wait-h", "average queue wait (hours)", False),
)
EFFICIENCY_NAMES = tuple(s[0] for s in EFFICIENCY_SKILLS)
RATIOS = frozenset(s[0] for s in EFFICIENCY_SKILLS if s[3])
LABELS = dict({s[0]: s[2] for s in SKILLS}, **{s[0]: s[1] for s in EFFICIENCY_SKILLS})
LONG_NAMES = dict({s[0]: s[3] for s in SKILLS}, **{s[0]: s[2] for s in EFFICIENCY_SKILLS})
UNITS = {s[0]: s[4] for s in SKILLS}
DEFAULT_XP = {s[0]: s[5] for s in SKILLS if s[5] is not None}
ACHIEVEMENTS = tuple(s[0] for s in SKILLS if s[5] is not None)     # the skills with XP and a level
PAGE_SKILLS = ACHIEVEMENTS + EFFICIENCY_NAMES   # what a player page ranks (the plain columns are the board's)
MEMORY = frozenset(s[0] for s in SKILLS if s[6])
# where each skill's integer counter sits in a table row, and what it is divided by to get the metric
COLUMN_OF = {s[0]: COLUMNS.index(s[1]) for s in SKILLS}
SCALE_OF = {s[0]: SCALES[COLUMNS.index(s[1])] for s in SKILLS}
MAX_LEVEL = 99


def _xp_table():
    """XP needed for levels 1..99 (index 0 is level 1): OSRS's floor(sum floor(l + 300 * 2^(l/7)) / 4)."""
    table, points = [0], 0
    for level in range(1, MAX_LEVEL):
        points += int(level + 300 * 2 ** (level / 7.0))
        table.append(points // 4)
    return table


XP_TABLE = _xp_table()


def level(xp):
    """The OSRS level (1..99) for this much XP."""
    return min(bisect.bisect_right(XP_TABLE, xp), MAX_LEVEL)


def efficiency_level(fraction):
    """An efficiency skill's level: 1 at 0 %, 99 at 100 % (or more: hyperthreads can exceed the allocation),
    linear between, so that each level is about one percentage point."""
    return max(1, min(MAX_LEVEL, 1 + int(round(98 * min(fraction, 1.0)))))


def xp_to_next(xp):
    """XP still needed for the next level; None at level 99."""
    at = level(xp)
    return None if at >= MAX_LEVEL else XP_TABLE[at] - xp


class Theme:
    """XP per unit of each achievement, from defaults and `ui/theme.json`; problems: what was wrong in it."""

    def __init__(self, xp_per_unit=None, problems=()):
        self.xp_per_unit = dict(DEFAULT_XP, **(xp_per_unit or {}))
        self.problems = list(problems)

    def xp(self, metric, counters):
        # multiply before dividing, and forgive float dust: 3,600,000 CPU-seconds at 10 XP/h must be
        # 10,000 XP, and 21,190 jobs at 0.7 XP exactly 14,833, not 14,832.9999...
        return int(counters[COLUMN_OF[metric]] * self.xp_per_unit[metric] / SCALE_OF[metric] + 1e-6)

    def level(self, metric, counters):
        return level(self.xp(metric, counters))

    def total_level(self, counters):
        """The achievements' levels summed (plain columns add nothing): 6 to 594."""
        return sum(level(self.xp(m, counters)) for m in ACHIEVEMENTS)

    def total_xp(self, counters):
        return sum(self.xp(m, counters) for m in ACHIEVEMENTS)


def load_theme(root):
    """The theme under root, or the defaults when there is none. What is bad in it (not JSON, an unknown
    key, a bad number) is a one-line problem naming the file, and the default is used for it."""
    path = os.path.join(root, "ui", "theme.json")
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        return Theme()
    except OSError as err:
        return Theme(problems=["{}: cannot read ({}); using the default XP rates".format(path, err.strerror)])
    except ValueError as err:
        return Theme(problems=["{}: not valid JSON ({}); using the default XP rates, fix or remove it".format(
            path, err)])
    problems, good = [], {}
    if not isinstance(doc, dict):
        doc = {None: doc}
    for key in doc:
        if key != "xp_per_unit":
            problems.append("{}: unknown key {!r} (expected {{\"xp_per_unit\": {{\"<skill>\": number}}}}); "
                            "ignored".format(path, key))
    rates = doc.get("xp_per_unit", {})
    if not isinstance(rates, dict):
        problems.append("{}: xp_per_unit is {!r}, expected {{\"<skill>\": number}}; using the defaults".format(
            path, rates))
        rates = {}
    for metric, rate in rates.items():
        if metric not in DEFAULT_XP:
            problems.append("{}: xp_per_unit has {} skill {!r} (levelled: {}); ignored".format(
                path, "a plain column, no level, for" if metric in METRIC_NAMES else "unknown", metric,
                ", ".join(ACHIEVEMENTS)))
        elif isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1e12:
            problems.append("{}: xp_per_unit.{} is {!r}, expected a number >= 0; using {:g}".format(
                path, metric, rate, DEFAULT_XP[metric]))
        else:
            good[metric] = rate
    return Theme(good, problems)


def humanize(value, memory=False):
    """Three significant digits and a suffix, at most 5 characters: 812, 96.7, 12.3k, 1.23M; memory (given
    in MB) in binary units: 512M, 1.5G, 742T."""
    if not value:
        return "0"
    if value < 0.005:       # a nonzero value never reads as 0
        return "<0.01"
    step, suffixes = (1024.0, "MGTPE") if memory else (1000.0, " kMGTPE")
    index = 0
    while value >= 999.5 and index < len(suffixes) - 1:
        value /= step
        index += 1
    text = "{:.0f}".format(value) if value >= 99.5 else "{:.1f}".format(value) if value >= 9.95 \
        else "{:.2f}".format(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + suffixes[index].strip()


def value_of(metric, counters):
    """A skill's value in its unit (hours, jobs, MB) from a user's integer counters."""
    return counters[COLUMN_OF[metric]] / SCALE_OF[metric]


def cell_text(metric, counters):
    """A skill's value as a board cell shows it: humanized, memory in binary units of MB, a ratio in
    percent, an unknown efficiency as '-'."""
    if metric in EFFICIENCY_NAMES:
        value = derived(counters)[metric]
        return "-" if value is None else "{:.0f}%".format(100 * value) if metric in RATIOS else humanize(value)
    return humanize(value_of(metric, counters), memory=metric in MEMORY)


def efficiency_cell_level(metric, counters):
    """The level shown after a ratio's cell, or None (unknown, or a plain column)."""
    value = derived(counters)[metric] if metric in RATIOS else None
    return None if value is None else efficiency_level(value)


def amount_text(metric, value):
    """A value with its unit for the detail line: '1,234 GPU-h', '4.5 h', '12 jobs', '1.5 GB requested'."""
    if metric in MEMORY:
        return "{}B {}".format(humanize(value, memory=True), UNITS[metric]).replace("<0.01B", "<0.01 MB")
    if value and value < 0.005:
        text = "<0.01"
    elif value >= 100 or value == int(value):
        text = "{:,.0f}".format(value)
    else:
        text = "{:.3g}".format(value)
    return "{} {}".format(text, UNITS[metric])


def xp_text(xp):
    """XP the way the hiscores print it: exact, with thousands separators."""
    return "{:,}".format(xp)

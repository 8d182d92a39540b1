"""A name's Page (scores.player) + view state → the player page's lines [(text, style)]: what runs now, every
skill's value, level, rank N/M and 7-day movement in each window, a monthly history bar per cluster of one
skill, personal bests and the split per cluster. ui.view boxes and scrolls them like the help page."""
import textwrap

from sb.scores.player import cluster_figures, monthly_values, personal_bests
from sb.scores.skills import ACHIEVEMENTS, LABELS, LONG_NAMES, MEMORY, PAGE_SKILLS, RATIOS, humanize
from sb.timeutil import age_words

WINDOWS = (("alltime", "all time"), ("30d", "30 days"), ("365d", "365 days"))
NOUNS = {"user": "player", "account": "clan", "partition": "partition"}
BARS = {"unicode": "▁▂▃▄▅▆▇█", "ascii": ".:-=+*#@"}
LABEL_WIDTH = 9
CELL_WIDTH = 22     # "12.3k 80 #1,234/10,000" and a space
SPLIT_WIDTH = 8     # a column of the per-cluster split: "GPUel-h" and a space


def page_lines(page, view, inner, glyphs, min_core_hours=10, show_efficiency=True):
    """The page's lines, unboxed, at most `inner` characters each."""
    skills = PAGE_SKILLS if show_efficiency else ACHIEVEMENTS
    where = page.cluster if len(page.clusters) < 2 else "{} ({})".format(page.cluster, "+".join(page.clusters))
    lines = [(" {} {} on {}".format(NOUNS[page.by].capitalize(), page.name, where), "title")]
    for problem in page.problems:   # an unreadable month counts 0 in the history below: say so first
        lines += [(text, "warn") for text in textwrap.wrap("Unreadable, counted as 0: " + problem, inner - 1,
                                                           initial_indent=" ", subsequent_indent="   ",
                                                           break_on_hyphens=False)]
    lines += _now(page)
    lines += [("", "")] + _standings(page, skills, inner)
    lines += [("", "")] + _history(page, view.player_metric, inner, glyphs)
    lines += [("", "")] + _bests(page, skills, inner, min_core_hours)
    lines += [("", "")] + _split(page, skills, inner)
    return [(text[:inner], style) for text, style in lines]


def _now(page):
    """What the player has running now, from the fresh snapshots; the stale ones named, not counted."""
    if page.now is None or not (page.now.fresh or page.now.stale):
        return []
    lines = []
    if page.now.fresh:
        mine = page.now.users.get(page.name)
        where = "+".join(cluster for cluster, _ in page.now.fresh)
        age = max(age for _, age in page.now.fresh)
        what = "nothing running or pending" if not mine else "{:,} running ({:,} CPUs{}), {:,} pending".format(
            mine["running"], mine["cpus"], ", {:,} GPUs".format(mine["gpus"]) if mine["gpus"] else "",
            mine["pending"])
        lines.append((" Now: {} on {} (squeue {} ago)".format(what, where, age_words(age)), "value"))
    for cluster, age in page.now.stale:
        lines.append((" Now on {}: unknown, its squeue snapshot is {} old (stale)".format(cluster, age_words(age)), "warn"))
    return lines


def figure(metric, value):
    """A value as the page prints it: humanized (memory in binary units), a ratio in percent, unknown '-'."""
    if value is None:
        return "-"
    if metric in RATIOS:
        return "{:.0%}".format(value)
    if metric == "total_level":
        return str(value)
    return humanize(value, memory=metric in MEMORY)


def _standings(page, skills, inner):
    """A line per skill: value, level and rank N/M in each window."""
    cell = min(max((inner - LABEL_WIDTH - 1) // len(WINDOWS), 12), CELL_WIDTH)
    lines = [(" {:<{}}".format("Skill", LABEL_WIDTH - 1) + "".join("{:>{}}".format(title, cell)
                                                                for _, title in WINDOWS), "label")]
    for metric in ("total_level",) + skills:
        cells = [_cell(page.standings[window, metric], cell, page.moves.get((window, metric), ""))
                 for window, _ in WINDOWS]
        name = "Total" if metric == "total_level" else LABELS[metric]
        lines.append((" {:<{}}".format(name, LABEL_WIDTH - 1) + "".join(cells), "value"))
    return lines


def _cell(entry, width, move=""):
    """'12.3k 80 #1/50 +3': value, level (none for a plain column), rank of how many are ranked ('-'
    unranked) and the 7-day movement; when that is too wide, the rank without its M, then no rank."""
    value = figure(entry["metric"], entry["value"])
    level = "" if entry["level"] is None or entry["metric"] == "total_level" else " {:>2}".format(entry["level"])
    rank = "#{:,}".format(entry["rank"]) if entry["rank"] else "-"
    tail = " {:<3}".format(move) if move else ""
    for text in ("{:>5}{} {}/{:,}{}".format(value, level, rank, entry["of"], tail),
                 "{:>5}{} {}{}".format(value, level, rank, tail), "{:>5}{}{}".format(value, level, tail)):
        if len(text) < width:
            return "{:>{}}".format(text, width)
    return "{:>{}}".format(value, width)


def _history(page, metric, inner, glyphs):
    """One bar per month of the skill, per cluster, on one scale (clusters compare), the newest on the right;
    36 months when the width allows, else 12."""
    count = 36 if inner >= 36 + 54 else 12
    months = page.months[-count:]
    values = {cluster: series[-count:] for cluster, series in monthly_values(page, metric).items()}
    peak = max((v for series in values.values() for v in series if v), default=0)
    lines = [(" {} per month, {} to {} (Tab: another skill)".format(LONG_NAMES[metric], months[0], months[-1]),
              "label")]
    bars = BARS[glyphs]
    for cluster in page.clusters:
        series = values[cluster]
        drawn = "".join(_bar(v, peak, bars) for v in series)
        lines.append(("  {:<10} {}  {}".format(cluster[:10], drawn, _summary(metric, series, months)), "value"))
    return lines


def _bar(value, peak, bars):
    """A month's bar: nothing for no figure, the lowest bar for any nonzero value (it never reads as none)."""
    if not value or not peak:
        return " "
    return bars[min(len(bars) - 1, int(len(bars) * value / peak))] if value < peak else bars[-1]


def _summary(metric, series, months):
    known = [(v, m) for v, m in zip(series, months) if v]
    if not known:
        return "none"
    top, month = max(known)
    if metric in RATIOS:
        return "best {} in {}".format(figure(metric, top), month)
    return "{} in all, most {} in {}".format(figure(metric, sum(v for v, _ in known)), figure(metric, top), month)


def _bests(page, skills, inner, min_core_hours):
    """Personal bests: each skill's best month, two or three to a line."""
    bests = personal_bests(page, min_core_hours)
    lines = [(" Personal bests: the best month since {}".format(page.months[0]), "label")]
    cells = ["{:<8}{:>6} {}".format(LABELS[m], figure(m, bests[m][0]), bests[m][1]) for m in skills if m in bests]
    if not cells:
        return lines + [("  none yet", "dim")]
    across = max(1, (inner - 2) // 26)
    for at in range(0, len(cells), across):
        lines.append(("  " + "".join("{:<26}".format(c) for c in cells[at:at + across]).rstrip(), "value"))
    return lines


def _split(page, skills, inner):
    """All-time figures per cluster: the skills that fit, in page order."""
    shown = skills[:max(1, (inner - 13) // SPLIT_WIDTH)]
    figures = cluster_figures(page)
    lines = [("  {:<10}".format("All time") + "".join("{:>{}}".format(LABELS[m], SPLIT_WIDTH) for m in shown), "label")]
    for cluster in page.clusters:
        lines.append(("  {:<10}".format(cluster[:10]) + "".join("{:>{}}".format(figure(m, figures[cluster][m]), SPLIT_WIDTH)
                                                             for m in shown),
                      "value"))
    return lines

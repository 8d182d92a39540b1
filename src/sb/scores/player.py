"""One name's page (a player, clan or partition; one cluster or ALL) → its standing on every skill in every
window, its counters per month per cluster (monthly rollups), its best months and its all-time split per
cluster. The board's Enter key shows it (ui.view draws it)."""
import collections

from sb.scores.board import ALL, WINDOW_NAMES
from sb.scores.history import last_months, name_months
from sb.scores.live import now_playing
from sb.scores.movement import move_text, then_table
from sb.scores.skills import ACHIEVEMENTS, PAGE_SKILLS, RATIOS
from sb.scores.whois import standing_entries
from sb.store.counters import INDEX, add_into, all_metrics, zero

MONTHS = 36                     # history and personal bests look back this far (the page draws the last 12+)
PAGE_METRICS = ("total_level",) + PAGE_SKILLS
FIELDS = {"user": "username", "account": "account", "partition": "partition"}

Page = collections.namedtuple("Page", "name by cluster clusters standings months history split problems moves now")
Page.__new__.__defaults__ = ({}, None)
Page.__doc__ = """name and by (user, account or partition), on `cluster` (a name or ALL: `clusters` summed);
standings {(window, metric): whois entry (value, rank, of, level)} of PAGE_METRICS; months ["YYYY-MM"] oldest first; history
{cluster: [counters per month]}; split {cluster: all-time counters}; problems: months that could not be read
(they count 0); moves {(window, metric): "+3", "-2", "=", "new" or ""} over the last 7 days, empty when a
cluster has no movement file; now: the clusters' live snapshots (scores.live.Now), for a player only."""


def player_page(scores, theme, name, cluster, by, now, min_core_hours=10, count=MONTHS, stale_after=1800):
    clusters = list(scores.clusters) if cluster == ALL else [cluster]
    standings, moves = {}, {}
    for window in WINDOW_NAMES:
        for entry in standing_entries(scores, theme, name, clusters, cluster, window, min_core_hours, by,
                                      metrics=PAGE_METRICS):
            standings[window, entry["metric"]] = entry
        then = then_table(scores, clusters, window, by)
        if then is not None:
            for entry in standing_entries(scores, theme, name, clusters, cluster, window, min_core_hours, by, then,
                                          PAGE_METRICS):
                key = window, entry["metric"]
                moves[key] = move_text(standings[key]["rank"], entry["rank"])
    months = last_months(now, count)
    exclude = scores.opted_out()
    history, problems = {}, []
    for each in clusters:
        history[each], trouble = name_months(scores.root, each, FIELDS[by], name, months, exclude)
        problems += trouble
    split = {each: list(scores.table([each], "alltime", by).counters(name)) for each in clusters}
    live = now_playing(scores, clusters, now, stale_after) if by == "user" else None
    return Page(name, by, cluster, clusters, standings, months, history, split, problems, moves, live)


def monthly_values(page, metric):
    """{cluster: [the metric's value per month]}: hours, jobs, MB or a ratio (None: unknown that month)."""
    return {each: [all_metrics(counters)[metric] for counters in series] for each, series in page.history.items()}


def cluster_figures(page):
    """{cluster: every metric of the page's all-time counters there}."""
    return {each: all_metrics(counters) for each, counters in page.split.items()}


def summed_months(page):
    """The page's counters per month, its clusters summed."""
    totals = [zero() for _ in page.months]
    for series in page.history.values():
        for total, counters in zip(totals, series):
            add_into(total, counters)
    return totals


def personal_bests(page, min_core_hours=10):
    """{skill: (value, month)}: the best month of each achievement and efficiency ratio over the page's months
    (its clusters summed). A ratio's best counts only months with min_core_hours core-hours, as its board
    ranks; a skill never used has no best."""
    floor = min_core_hours * 3600
    bests = {}
    for month, counters in zip(page.months, summed_months(page)):
        if not counters[INDEX["jobs"]]:
            continue
        metrics = all_metrics(counters)
        for skill in ACHIEVEMENTS + tuple(sorted(RATIOS)):
            value = metrics[skill]
            if not value or (skill in RATIOS and counters[INDEX["cpu_s"]] < floor):
                continue
            if skill not in bests or value > bests[skill][0]:
                bests[skill] = (value, month)
    return bests

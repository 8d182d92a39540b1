"""The `whois` command: a user's standing (scores.whois) → JSON, or a text page of rank N of M per cluster."""
import json

from sb.scores import whois
from sb.scores.board import ALL, Scores
from sb.scores.skills import ACHIEVEMENTS, LABELS, load_theme, xp_to_next
from sb.ui.tui import check_root

# what the text page shows per cluster: the levelled skills, then efficiency and waste (JSON has every metric)
SHOWN = ("total_level",) + ACHIEVEMENTS + ("cpu_efficiency", "mem_efficiency", "time_efficiency", "gpu_efficiency",
                                          "cpu_wasted_hours", "mem_wasted_gb_hours", "avg_wait_hours")
NAMES = dict(LABELS, total_level="Total")     # the board's column titles


def run(args, settings, clock, env, out, err):
    user = (args.user or env.get("USER") or "").lower()
    if not user:
        raise ValueError("no user given and $USER is not set: slurm-sb whois USER")
    problem = check_root(settings.root)
    if problem:
        raise ValueError(problem)
    scores, theme = Scores(settings.root), load_theme(settings.root)
    try:
        doc = whois.whois(scores, theme, user, clock(), settings.efficiency_min_core_hours)
    except whois.Unknown as unknown:
        print("slurm-sb whois: {}".format(unknown), file=err)
        return 1
    if args.json:
        print(json.dumps(doc, indent=1), file=out)
    else:
        out.write(page(doc, scores.clusters + [ALL], theme))
    return 0


def page(doc, clusters, theme):
    """Per cluster, one line per skill: value, level and rank N of M in each window (and XP to the next level
    of the all-time figure)."""
    by = {(e["cluster"], e["window"], e["metric"]): e for e in doc["entries"]}
    lines = ["{} as of {}".format(doc["user"], doc["asof"])]
    for cluster in clusters:
        lines += ["", "{:<13}{:>26}{:>26}{:>26}".format(cluster, "all time", "30 days", "365 days")]
        for metric in SHOWN:
            cells = [_cell(by[cluster, window, metric]) for window in ("alltime", "30d", "365d")]
            lines.append("  {:<11}{}{}".format(NAMES[metric], "".join("{:>26}".format(c) for c in cells),
                                              _to_next(by[cluster, "alltime", metric], theme)))
    return "\n".join(lines) + "\n"


def _cell(entry):
    value = entry["value"]
    if value is None:
        text = "-"
    elif entry["metric"].endswith("efficiency"):
        text = "{:.0%}".format(value)
    else:
        text = "{:,.0f}".format(value) if value >= 100 else "{:.3g}".format(value)
    level = " lvl {}".format(entry["level"]) if entry["level"] else ""
    rank = "#{} of {}".format(entry["rank"], entry["of"]) if entry["rank"] else "unranked"
    return "{}{}  {}".format(text, level, rank)


def _to_next(entry, theme):
    """'  (1,234 XP to 54)' for a levelled usage skill."""
    metric = entry["metric"]
    if metric not in theme.xp_per_unit or entry["value"] is None or not entry["level"]:
        return ""
    xp = int(entry["value"] * theme.xp_per_unit[metric] + 1e-6)
    needed = xp_to_next(xp)
    return "" if needed is None else "   ({:,} XP to {})".format(needed, entry["level"] + 1)


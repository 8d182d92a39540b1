"""The page's data dict → one self-contained HTML page: CSS, JavaScript, data and uPlot inline, the default
board and the header rendered here so the page is useful with JavaScript off."""
import html
import json
import pkgutil

from sb.compat import vendored_file
from sb.scores.skills import humanize
from sb.timeutil import age_words

# Every fetch is forbidden: scripts and styles only inline, pictures only data: URIs (the crown).
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; " \
      "base-uri 'none'; form-action 'none'"
HEADINGS = {"rank": "#", "user": "Player", "account": "Clan", "partition": "Partition", "total_level": "Level",
            "total_xp": "XP", "users": "Players"}


def render(data):
    """The whole page as text."""
    return TEMPLATE.format(
        csp=CSP, uplot_css=_text(vendored_file("uplot/uPlot.min.css")), css=_asset("report.css"),
        header=header(data), board=board_table(data["default"], data["boards"][data["default"]], data["skills"]),
        data=script_json(data), uplot=_script(vendored_file("uplot/uPlot.iife.min.js")), js=_asset("report.js"))


def _asset(name):
    return _text(pkgutil.get_data("sb.report", "assets/" + name))


def _text(data):
    return data.decode("utf-8")


def _script(data):
    """A script's text, made safe to inline: nothing in it may close the <script> element."""
    return _text(data).replace("</script", "<\\/script")


def script_json(data):
    """JSON safe inside <script type=application/json>: '<' escaped, so no text closes the element."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def header(data):
    """Each cluster's data age (stale ones in red, as on the board) and when the page was generated."""
    items = []
    for cluster in data["clusters"]:
        bad = cluster["stale"] or bool(cluster["trouble"])
        words = [age_text(cluster["age"])] + ["stale"] * cluster["stale"] + [cluster["trouble"]] * bool(
            cluster["trouble"])
        items.append('<li class="{}"><b>{}</b> {}</li>'.format(
            "stale" if bad else "fresh", html.escape(cluster["name"]), html.escape(", ".join(w for w in words if w))))
    return '<ul class="ages">{}</ul><p class="generated">generated {}</p>'.format(
        "".join(items), html.escape(data["generated"]))


def age_text(seconds):
    """'45 s', '12 min', '3 h', '2 d' old; 'no data' when never polled."""
    return "no data" if seconds is None else age_words(seconds) + " old"


def board_table(key, board, skills):
    """A board as the HTML table the script would draw (same attributes, same cell text)."""
    heads = "".join('<th data-col="{}" scope="col">{}</th>'.format(c, html.escape(heading(c, skills)))
                    for c in board["columns"])
    rows = []
    name_at = board["columns"].index(board["name"]) if board["name"] else None
    for values, levels in zip(board["rows"], board["levels"]):
        level_of = dict(zip(board["levelled"], levels))
        cells = "".join(cell(c, v, level_of.get(c), skills, board["name"]) for c, v in zip(board["columns"], values))
        rows.append('<tr data-rank="{}" data-name="{}">{}</tr>'.format(
            values[0], html.escape(str(values[name_at])) if name_at is not None else "", cells))
    return '<table data-board="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'.format(
        html.escape(key), heads, "".join(rows))


def heading(column, skills):
    return HEADINGS.get(column) or (skills[column]["label"] if column in skills else column.replace("_", " "))


def cell(column, value, level, skills, name_column):
    """One cell: its exact value in data-v, shown as the board shows it (humanized, level after the value)."""
    exact = "" if value is None else ' data-v="{}"'.format(html.escape(json.dumps(value)))
    return "<td{}>{}</td>".format(exact, cell_html(column, value, level, skills, name_column))


def cell_html(column, value, level, skills, name_column):
    if value is None:
        return "-"
    if column == name_column:
        text = html.escape(str(value))
        return '<a href="#player={0}">{0}</a>'.format(text) if column == "user" else text
    if column in ("rank", "total_level", "users"):
        return str(value)
    if column == "total_xp":
        return "{:,}".format(value)
    shown = html.escape(humanize(value, skills.get(column, {}).get("memory", False)))
    return shown + (' <small class="lv">{}</small>'.format(level) if level is not None else "")


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>SLURM Scoreboard - Hiscores</title>
<style>{uplot_css}</style>
<style>{css}</style>
</head>
<body>
<header class="top">
<h1>SLURM Scoreboard <span>Hiscores</span></h1>
{header}
</header>
<nav id="boards" aria-label="boards"></nav>
<main>
<section id="hiscores" class="panel">
<div class="tools"><input id="search" type="search" placeholder="Search players" aria-label="search players" hidden>
<span id="info"></span></div>
<div class="scroll" id="board">{board}</div>
<noscript><p class="note">Other boards, sorting, search, player pages and charts need JavaScript; this is
the all-time board of every cluster, by core-hours.</p></noscript>
</section>
<section id="player" class="panel" hidden></section>
<section id="charts" class="panel"><h2>Charts</h2><div id="chart-list"></div></section>
</main>
<script type="application/json" id="sb-data">{data}</script>
<script>{uplot}</script>
<script>{js}</script>
</body>
</html>
"""

"""The report in a real headless Chromium (Debian's package, driven over the DevTools pipe by tests/browser.py):
every table after the scripts ran equals `tui --json`, the page without JavaScript shows the default board,
search and sort answer real key presses and clicks, no console error, no request leaves the page, and
screenshots at 1366x768 and 390x844."""
import io
import json
import os
import struct

import pytest

from browser import Browser, find_chromium
from conftest import DEMO_NOW, require_or_skip
from sb import cli

BOARDS = ["{}/{}/{}".format(c, w, by) for c in ("ALL", "hammer", "negishi") for w in ("alltime", "30d", "365d")
          for by in ("user", "account", "partition")]
# the DOM of the shown table: [(rank, name, {column: exact value})], read the way a person sees it
READ_TABLE = """(() => { const t = document.querySelector('#board table');
  const cols = [...t.tHead.rows[0].cells].map(th => th.dataset.col);
  return {board: t.dataset.board, rows: [...t.tBodies[0].rows].filter(r => !r.hidden).map(r => [
    Number(r.dataset.rank), r.dataset.name,
    Object.fromEntries([...r.cells].map((c, i) => [cols[i], c.hasAttribute('data-v') ? JSON.parse(c.dataset.v) : null])),
    [...r.cells].map(c => c.textContent)])}; })()"""


@pytest.fixture(scope="module")
def page(demo_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("web"))
    assert cli.main(["report", "--out", out, "--root", demo_root, "--now", DEMO_NOW], out=io.StringIO(),
                    err=io.StringIO()) == 0
    return "file://" + os.path.join(out, "index.html")


@pytest.fixture(scope="module")
def browser():
    if not find_chromium():
        require_or_skip("no chromium on PATH (apt-get install chromium)")
    try:
        driver = Browser()
    except (RuntimeError, OSError) as problem:
        require_or_skip("chromium does not start: {}".format(problem))
    yield driver
    driver.close()


def tui_rows(root, board):
    cluster, window, by = board.split("/")
    out = io.StringIO()
    assert cli.main(["tui", "--root", root, "--json", "--cluster", cluster, "--window", window, "--by", by,
                     "--now", DEMO_NOW], out=out, err=io.StringIO()) == 0
    return json.loads(out.getvalue())["rows"]


def go(browser, url):
    browser.console.clear()
    browser.errors.clear()
    browser.requests.clear()
    browser.size(1366, 768)
    return browser.open(url)


@pytest.mark.parametrize("board", BOARDS)
def test_each_table_after_the_scripts_is_tui_json(browser, page, demo_root, board):
    go(browser, page + "#board=" + board)
    shown = browser.eval(READ_TABLE)
    expected = tui_rows(demo_root, board)
    assert shown["board"] == board and expected
    name = board.split("/")[2]
    assert [(rank, name_) for rank, name_, _, _ in shown["rows"]] == [(r["rank"], r[name]) for r in expected]
    assert [values for _, _, values, _ in shown["rows"]] == expected
    assert browser.problems() == []


def test_the_default_board_and_a_hash_change(browser, page, demo_root):
    go(browser, page)
    assert browser.eval(READ_TABLE)["board"] == "ALL/alltime/user"
    browser.eval("location.hash = '#board=negishi/30d/user'")
    browser.wait("document.querySelector('#board table').dataset.board === 'negishi/30d/user'")
    names = [name for _, name, _, _ in browser.eval(READ_TABLE)["rows"]]
    assert names == [r["user"] for r in tui_rows(demo_root, "negishi/30d/user")]


def test_without_javascript_the_default_board_reads_the_same(browser, page):
    go(browser, page)
    with_script = browser.eval(READ_TABLE)
    browser.call("Emulation.setScriptExecutionDisabled", session=True, value=True)
    try:
        browser.call("Page.navigate", session=True, url=page)
        browser.wait("document.readyState === 'complete' && !!document.querySelector('#board table')")
        browser.call("Emulation.setScriptExecutionDisabled", session=True, value=False)  # evaluate, not run
        without = browser.eval(READ_TABLE)
        ran = browser.eval("document.documentElement.hasAttribute('data-charts')")
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", session=True, value=False)
    assert not ran and without == with_script        # same rows, values and cell text from Python and JS


def click(browser, selector):
    box = browser.eval("(() => { const e = document.querySelector(" + json.dumps(selector) + "); "
                       "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                       "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", session=True, type=kind, x=box[0], y=box[1], button="left",
                     clickCount=1)


def test_sorting_by_a_clicked_heading(browser, page, demo_root):
    go(browser, page)
    expected = tui_rows(demo_root, "ALL/alltime/user")
    click(browser, 'th[data-col="jobs"]')
    browser.wait("document.querySelector('th[data-col=jobs]').getAttribute('aria-sort') === 'descending'")
    by_jobs = sorted(expected, key=lambda r: (-r["jobs"], r["rank"]))
    assert [name for _, name, _, _ in browser.eval(READ_TABLE)["rows"]] == [r["user"] for r in by_jobs]
    click(browser, 'th[data-col="jobs"]')
    browser.wait("document.querySelector('th[data-col=jobs]').getAttribute('aria-sort') === 'ascending'")
    rows = browser.eval(READ_TABLE)["rows"]
    assert [v["jobs"] for _, _, v, _ in rows] == sorted(r["jobs"] for r in expected)
    assert [rank for rank, _, _, _ in rows] != sorted(rank for rank, _, _, _ in rows)   # ranks stay the standings


def test_search_by_typing(browser, page, demo_root):
    go(browser, page)
    click(browser, "#search")
    browser.call("Input.insertText", session=True, text="u003")
    browser.wait("document.getElementById('search').dataset.shown !== undefined && "
                 "document.querySelectorAll('#board tbody tr:not([hidden])').length < 20")
    shown = [name for _, name, _, _ in browser.eval(READ_TABLE)["rows"]]
    assert shown == [r["user"] for r in tui_rows(demo_root, "ALL/alltime/user") if "u003" in r["user"]]
    assert 1 < len(shown) < 11


def test_a_player_page_lists_their_ranks(browser, page, demo_root):
    go(browser, page + "#player=u0037")
    ranks = browser.eval("[...document.querySelectorAll('#player tr[data-board]')].map(r => "
                         "[r.dataset.board, Number(r.cells[1].textContent)])")
    expected = []
    for board in (b for b in BOARDS if b.endswith("/user")):     # a player's ranks are on the player boards
        expected += [[board, r["rank"]] for r in tui_rows(demo_root, board) if r["user"] == "u0037"]
    assert ranks == expected and len(expected) >= 3
    assert browser.eval("!!document.querySelector('#player .uplot')")     # the history chart is drawn
    assert browser.eval("document.querySelectorAll('#boards a[aria-current]').length") == 0
    browser.eval("location.hash = '#player=nobody'")
    browser.wait("document.getElementById('player').dataset.player === 'nobody'")
    assert "is on no board here" in browser.eval("document.getElementById('player').textContent")
    assert browser.problems() == []


def test_charts_are_drawn_with_no_error_and_no_request_leaves_the_page(browser, page):
    go(browser, page)
    browser.pump(0.5)
    assert browser.eval("document.querySelectorAll('#charts .uplot canvas').length") >= 4
    assert browser.problems() == []
    assert browser.requests and all(url.split(":")[0] in ("file", "data") for url in browser.requests)


def test_the_checks_above_can_fail(browser, page):
    """A thrown error is seen, and a fetch the page tried would be refused by its CSP and reported."""
    go(browser, page)
    browser.eval("setTimeout(() => { throw new Error('boom'); }, 0); "
                 "const img = document.createElement('img'); img.src = 'http://127.0.0.1:9/x.png'; "
                 "document.body.appendChild(img); 1")
    browser.pump(1.0)
    problems = " ".join(browser.problems())
    assert "boom" in problems and "Content Security Policy" in problems


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_screenshots(browser, page, tmp_path, width, height):
    go(browser, page)
    browser.size(width, height, mobile=width < 600)
    browser.pump(0.3)
    path = browser.screenshot(str(tmp_path / "report-{}x{}.png".format(width, height)))
    assert png_size(path) == (width, height)
    # on a phone the table scrolls sideways inside its panel; the page itself does not
    assert browser.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
    print("screenshot:", path)


def test_hovering_a_chart_shows_the_exact_value(browser, page, demo_root):
    """The mouse over the core-hours chart: its legend shows that month and each cluster's exact value."""
    go(browser, page)
    box = browser.eval("(() => { const o = document.querySelector('#charts .u-over'); o.scrollIntoView(); "
                       "const r = o.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()")
    browser.call("Input.dispatchMouseEvent", session=True, type="mouseMoved", x=box[0] + box[2] * 0.85,
                 y=box[1] + box[3] / 2)
    browser.wait("document.querySelector('#charts .u-legend .u-value').textContent !== '-'")
    legend = browser.eval("[...document.querySelector('#charts .u-legend').querySelectorAll('.u-series')]"
                          ".map(s => [s.querySelector('.u-label').textContent, s.querySelector('.u-value')"
                          ".textContent])")
    data = json.loads(browser.eval("document.getElementById('sb-data').textContent"))["charts"]
    month = legend[0][1]
    at = data["months"].index(month)
    assert at > 24
    expected = [[name, "{:,.2f}".format(data["core_hours"][name][at]).rstrip("0").rstrip(".")]
                for name in ("hammer", "negishi")]
    assert legend[1:] == expected and any(float(v.replace(",", "")) > 0 for _, v in expected)

"""Web report speed on a big shared root (issue 13's budgets): 5 clusters x 10,000 players x 36 months of
monthly rollups, then 20 clusters.

    python3 bench/bench_report.py [--runs 3] [--big-clusters 20] [--active 0.3] [--no-browser]

Prints, medians of --runs:
  * `slurm-sb report` wall time and peak RSS, as its own process (targets <= 3 s, <= 150 MB), and the size
    of index.html (target <= 4 MB);
  * Chromium (Debian's headless, over the DevTools pipe): navigation to every chart drawn, as the page's own
    performance.now() when its last chart drew (target <= 1.5 s);
  * the same report on --big-clusters clusters (target <= 10 s).
The roots are the board bench's leaderboards (bench_board.make_root) plus a monthly rollup per cluster and
month in which each of the cluster's players is active with probability --active.
"""
import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "src"), os.path.join(REPO, "vendor"), os.path.join(REPO, "tests"), HERE]

from bench_board import counters_of, group_key, make_root  # noqa: E402
from sb.scores.history import last_months  # noqa: E402
from sb.store.layout import ClusterPaths  # noqa: E402
from sb.store.rollups import monthly_json  # noqa: E402


def add_months(root, clusters, active, months=36, seed=2):
    """A monthly rollup per cluster and month: each player of the cluster's board active with probability
    `active`, heavy-tailed usage."""
    rng = random.Random(seed)
    now = time.time()
    rows = 0
    for cluster in clusters:
        paths = ClusterPaths(root, cluster)
        os.makedirs(paths.monthly_dir)
        players = rng.sample(range(20000), 10000)
        for month in last_months(now, months):
            totals = {}
            for n in players:
                if rng.random() < active:
                    jobs = max(int(rng.paretovariate(1.2)), 1)
                    totals[group_key(n)] = counters_of(rng, jobs, jobs * rng.randint(60, 20000), rng.random() < 0.2)
            rows += len(totals)
            with open(paths.monthly(month), "wb") as handle:
                handle.write(monthly_json(month, totals, now))
    return rows


def build(work, count, active):
    clusters = tuple("c{:02d}".format(n) for n in range(count))
    root = os.path.join(work, "root{}".format(count))
    begin = time.time()
    make_root(root, clusters=clusters)
    rows = add_months(root, clusters, active)
    print("root: {} clusters x 10,000 players, 36 months, {:,} monthly rows (made in {:.0f} s)".format(
        count, rows, time.time() - begin))
    return root


def report(root, out):
    """Wall seconds, CPU seconds and peak RSS (MB) of one `slurm-sb report` process."""
    code = "import sys; from sb.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "src"), os.path.join(REPO, "vendor")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "report", "--out", out, "--root", root], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    seconds = time.perf_counter() - begin
    if done.returncode:
        raise SystemExit("report failed: " + done.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, after.ru_maxrss / 1024.0


def browser_times(page, runs):
    from browser import Browser
    driver = Browser(timeout=60)
    try:
        driver.size(1366, 768)
        drawn = []
        for run in range(runs + 1):     # the first warms the browser's caches; a new query makes a new load
            driver.open("file://{}?run={}#board=ALL/alltime/user".format(page, run))
            drawn.append(int(driver.eval("document.documentElement.getAttribute('data-charts-ms')")) / 1e3)
        problems = driver.problems()
    finally:
        driver.close()
    return drawn[1:], problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-clusters", type=int, default=20)
    parser.add_argument("--active", type=float, default=0.3, help="share of players active in a month")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sb-bench-report-")
    try:
        print("load average before: {:.1f} {:.1f} {:.1f} ({} cores)".format(*os.getloadavg(), os.cpu_count()))
        root = build(work, 5, args.active)
        out = os.path.join(work, "web")
        times, cpus = [], []
        for _ in range(args.runs):
            seconds, cpu, rss = report(root, out)
            times.append(seconds)
            cpus.append(cpu)
        page = os.path.join(out, "index.html")
        print("report, 5 clusters: median {:.2f} s wall (min {:.2f}, max {:.2f}; target <= 3 s), {:.2f} s CPU, "
              "peak RSS {:.0f} MB (target <= 150 MB), index.html {:.2f} MB (target <= 4 MB)".format(
                  statistics.median(times), min(times), max(times), statistics.median(cpus), rss,
                  os.path.getsize(page) / 2 ** 20))
        if not args.no_browser:
            drawn, problems = browser_times(page, args.runs)
            print("Chromium, navigation to every chart drawn: median {:.2f} s (min {:.2f}, max {:.2f}; target "
                  "<= 1.5 s){}".format(statistics.median(drawn), min(drawn), max(drawn),
                                       "; console: " + " | ".join(problems) if problems else ""))
        shutil.rmtree(root)
        big = build(work, args.big_clusters, args.active)
        seconds, cpu, rss = report(big, out)
        print("report, {} clusters: {:.2f} s wall (target <= 10 s), {:.2f} s CPU, peak RSS {:.0f} MB, index.html "
              "{:.2f} MB".format(args.big_clusters, seconds, cpu, rss, os.path.getsize(page) / 2 ** 20))
        print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

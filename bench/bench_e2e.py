#!/usr/bin/env python3
"""End to end through the built pyz: `replay` of a saved dump and `backfill` through the fake sacct, against
a bare split loop over the same dump (issue 16).

    python3 build.py && python3 bench/bench_e2e.py [--jobs 100000 1000000] [--runs 3] [--keep-dir DIR]
    python3 bench/bench_e2e.py --pyz dist/slurm-sb.pyz --pyz /tmp/old/slurm-sb.pyz   # two builds, alternated

Stdlib only. For each --jobs size a seeded corpus (bench/gen_sacct.py: --users users, jobs ending over the
12 months from 2025-01-01, so a backfill commits at least 12 windows and a 1M-job replay 15 pieces) is
saved as the dump `replay` reads (header line, epoch times, `TZ=UTC SLURM_TIME_FORMAT=%s sacct -a -D -P
--noconvert ...`, taken from the fake sacct). Each run, in turn for every --pyz:
  * bare:     `for line in f: line.split('|')` over the dump, in a fresh python3 (the yardstick);
  * replay:   `python3 PYZ replay DUMP` into a fresh root;
  * backfill: `python3 PYZ backfill` into a fresh root, sacct being tests/fake_sacct.py over the .db.
Wall times are medians of --runs; the ratio is to the bare loop's median. CPU and peak RSS are the
collector's own (getrusage inside it; the fake sacct's CPU is not counted), as bench_collector.py takes them.
The fake sacct scans its whole .db on every call (12 per backfill), so backfill's wall is mostly the fake
sacct; its collector CPU is the figure to compare with the bare loop.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_collector as bc  # noqa: E402

CLUSTER = "hammer"
START = "2025-01-01"
DAYS = 365
BARE = ("import sys\n"
        "with open(sys.argv[1], encoding='utf-8', errors='replace', buffering=1 << 16) as f:\n"
        "    for line in f:\n"
        "        line.split('|')\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--pyz", action="append", help="pyz to time (repeat to alternate builds; "
                                                       "default dist/slurm-sb.pyz)")
    parser.add_argument("--skip-backfill", action="store_true", help="replay and the bare loop only")
    parser.add_argument("--keep-dir", help="work directory to keep (the corpora are reused)")
    args = parser.parse_args(argv)
    args.pyz = [os.path.abspath(p) for p in (args.pyz or [os.path.join(bc.REPO, "dist", "slurm-sb.pyz")])]
    for pyz in args.pyz:
        if not os.path.exists(pyz):
            raise SystemExit("{}: no such pyz (python3 build.py makes dist/slurm-sb.pyz)".format(pyz))
    return bc.in_work_dir(args, "sb-e2e-", bench)


def corpus(work, jobs, args):
    """(db_dir, dump path, lines): the .db and its dump, made once per size and seed (cached in `work`)."""
    import gen_sacct
    import fake_sacct
    from sb.collect.jobs import FIELDS
    from sb.collect.sacct import END_STATES
    from sb.timeutil import iso_utc, parse_when
    name = "{}-{}-{}".format(jobs, args.users, args.seed)
    db_dir = os.path.join(work, "db-" + name)
    dump = os.path.join(work, "dump-{}.txt".format(name))
    if os.path.exists(dump):
        return db_dir, dump
    os.makedirs(db_dir, exist_ok=True)
    start = parse_when(START)
    with open(os.path.join(db_dir, CLUSTER + ".db"), "w", encoding="ascii", newline="\n") as out:
        gen_sacct.generate(out, jobs, args.seed, start=start, days=DAYS, users=args.users, cluster=CLUSTER)
    sacct = fake_sacct.install_fake_sacct(os.path.join(work, "bin-" + name), db_dir)
    env = dict(os.environ, TZ="UTC", SLURM_TIME_FORMAT="%s", FAKE_SACCT_DB_DIR=db_dir)
    argv = [sacct, "-a", "-D", "-P", "--noconvert", "-M", CLUSTER, "-S", iso_utc(start)[:19],
            "-E", iso_utc(start + DAYS * 86400)[:19], "-s", END_STATES, "-o", ",".join(FIELDS)]
    with open(dump + ".part", "wb") as out:
        subprocess.run(argv, stdout=out, env=env, check=True)
    os.rename(dump + ".part", dump)
    return db_dir, dump


def bare(dump, timing):
    """Wall and peak RSS of the bare split loop in its own python3 (under /usr/bin/time when there is one)."""
    argv = [sys.executable, "-c", BARE, dump]
    if os.access("/usr/bin/time", os.X_OK):
        argv = ["/usr/bin/time", "-f", "%M", "-o", timing] + argv
    began = time.perf_counter()
    subprocess.run(argv, check=True)
    wall = time.perf_counter() - began
    rss = None
    if os.path.exists(timing):
        with open(timing) as handle:
            rss = int(handle.read().split()[-1])
    return {"wall": wall, "cpu": None, "rss_kib": rss}


def bench(args, work):
    from sb.timeutil import iso_utc, parse_when
    began = time.time()
    results = {}
    now = iso_utc(parse_when(START) + (DAYS + 3) * 86400)[:19]
    for jobs in args.jobs:
        db_dir, dump = corpus(work, jobs, args)
        with open(dump, "rb") as handle:
            lines = sum(1 for _ in handle)
        print("corpus {:,} jobs: {:,} lines, {:.0f} MB, {} users, {} days from {}; load {}".format(
            jobs, lines, os.path.getsize(dump) / 1e6, args.users, DAYS, START, load()), flush=True)
        import fake_sacct
        sacct = fake_sacct.install_fake_sacct(os.path.join(work, "bin-e2e"), db_dir)
        runners = [bc.Runner(work, sacct, db_dir, pyz) for pyz in args.pyz]
        for runner in runners:
            runner.warm_up()
        figures = results[jobs] = {}
        for run in range(args.runs):
            order = runners if run % 2 == 0 else runners[::-1]   # alternate which build goes first
            figures.setdefault("bare", []).append(bare(dump, os.path.join(work, "bare-time.txt")))
            for runner in order:
                label = os.path.relpath(runner.target)
                replayed, backfilled = os.path.join(work, "root-replay"), os.path.join(work, "root-backfill")
                shutil.rmtree(replayed, ignore_errors=True)
                figures.setdefault(("replay", label), []).append(
                    runner.run_cli(["replay", dump, "--root", replayed, "--cluster", CLUSTER]))
                if not args.skip_backfill:
                    shutil.rmtree(backfilled, ignore_errors=True)
                    figures.setdefault(("backfill", label), []).append(runner.run_cli(
                        ["backfill", "--root", backfilled, "--cluster", CLUSTER, "--now", now,
                         "-o", "backfill_start=" + START[:7], "-o", "squeue=true"]))
                    if run == 0:
                        same_rollups(replayed, backfilled)
            print("  run {} done, load {}".format(run + 1, load()), flush=True)
        report(jobs, figures)
    print("total bench time {:.0f} s".format(time.time() - began))
    return 0


def report(jobs, figures):
    base = statistics.median(r["wall"] for r in figures["bare"])
    print("{:,} jobs, medians of {} runs:".format(jobs, len(figures["bare"])))
    for key, runs in figures.items():
        what = key if key == "bare" else "{} {}".format(*key)
        wall = statistics.median(r["wall"] for r in runs)
        cpu = [r["cpu"] for r in runs if r["cpu"] is not None]
        rss = [r["rss_kib"] / 1024.0 for r in runs if r["rss_kib"]]
        new = sorted({r.get("new") for r in runs} - {None})
        print("  {:<44} wall {:7.2f} s ({:5.2f}x bare)  CPU {:>8}  peak RSS {:6.1f} MiB{}".format(
            what, wall, wall / base, "{:.2f} s".format(statistics.median(cpu)) if cpu else "-",
            statistics.median(rss) if rss else float("nan"),
            "  CPU {:.2f}x bare".format(statistics.median(cpu) / base) if cpu else "") +
            ("  new jobs {}".format(new) if new else ""))
        print("      walls: " + " ".join("{:.2f}".format(r["wall"]) for r in runs), flush=True)


def same_rollups(one, other):
    """A replay of the dump and a backfill of the same jobs must count the same (monthly rollups, asof masked)."""
    import re
    folder = os.path.join("clusters", CLUSTER, "agg", "rollups", "monthly")
    names = sorted(os.listdir(os.path.join(one, folder)))
    if names != sorted(os.listdir(os.path.join(other, folder))):
        raise SystemExit("replay and backfill wrote different months: {}".format(names))
    for name in names:
        texts = []
        for root in (one, other):
            with open(os.path.join(root, folder, name), "rb") as handle:
                texts.append(re.sub(rb'"(asof|crc32)": ?"[^"]*"', b"", handle.read()))
        if texts[0] != texts[1]:
            raise SystemExit("replay and backfill counted {} differently".format(name))


def load():
    try:
        return "{:.1f}".format(os.getloadavg()[0])
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())

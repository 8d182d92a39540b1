#!/usr/bin/env python3
"""Steady-state poll tick: the collector's own CPU for a tick with nothing new, and one with ~10k new jobs.

    python3 bench/bench_poll.py [--users 5000] [--jobs 200000] [--runs 3] [--keep-dir DIR]

Stdlib only. A seeded synthetic cluster (bench/gen_sacct.py; --jobs jobs of --users users ending over 400
days up to 2024-02-05) is backfilled once up to T0 (the end minus --new-days), so the root holds 13+ months
of rollups and every user file, and polled once at T0. Each run then copies that root and times, in a
subprocess started like bench_collector.py's (getrusage inside the collector, so the fake sacct's CPU is
not counted):
  * idle tick:  `poll` at T0 again: nothing new has ended (the late window is re-read, all counted);
  * busy tick:  `poll` at the end: about --new-days of jobs (10k by default) are new.
Medians of --runs runs with min and max.
"""
import argparse
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_collector as bc  # noqa: E402

END = "2024-02-05T00:00:00"
DAYS = 400
CLUSTER = "hammer"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=200000, help="jobs over the 400 days (default 200000)")
    parser.add_argument("--new-days", type=float, default=20.0, help="days of jobs the busy tick finds new")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-dir", help="work directory to keep (input and the backfilled root are reused)")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--idle-only", action="store_true", help="time the idle tick alone (no busy tick)")
    args = parser.parse_args(argv)
    return bc.in_work_dir(args, "sb-poll-", bench)


def bench(args, work):
    import gen_sacct
    import fake_sacct
    from sb.timeutil import iso_utc, parse_when
    began = time.time()
    db_dir = os.path.join(work, "db")
    os.makedirs(db_dir, exist_ok=True)
    db = os.path.join(db_dir, CLUSTER + ".db")
    stamp = os.path.join(work, "input-{}-{}-{}".format(args.jobs, args.users, args.seed))
    end = parse_when(END)
    if not os.path.exists(stamp):
        with open(db, "w", encoding="ascii", newline="\n") as out:
            gen_sacct.generate(out, args.jobs, args.seed, start=end - DAYS * 86400, days=DAYS, users=args.users,
                               cluster=CLUSTER)
        open(stamp, "w").close()
        shutil.rmtree(os.path.join(work, "base"), ignore_errors=True)
    sacct = fake_sacct.install_fake_sacct(os.path.join(work, "bin"), db_dir)
    runner = bc.Runner(work, sacct, db_dir)
    runner.warm_up()
    t0 = end - int(args.new_days * 86400)
    base = os.path.join(work, "base")
    first_month = iso_utc(end - DAYS * 86400)[:7]
    options = ["-o", "backfill_start=" + first_month, "-o", "squeue=true"]
    if not os.path.exists(base):
        done = runner.run_cli(["backfill", "--root", base, "--cluster", CLUSTER, "--now", iso_utc(t0)] + options)
        print("backfilled {} to {}: {} jobs, {:.0f} s".format(first_month, iso_utc(t0), done["new"], done["wall"]))
    runner.run_cli(["poll", "--root", base, "--cluster", CLUSTER, "--now", iso_utc(t0)] + options)  # by this code

    def tick(now):
        root = os.path.join(work, "tick")
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(base, root)
        return runner.run_cli(["poll", "--root", root, "--cluster", CLUSTER, "--now", iso_utc(now)] + options)

    idle, busy = [], []
    for _ in range(args.runs):
        idle.append(tick(t0))
        if not args.idle_only:
            busy.append(tick(end))
    users = len(os.listdir(os.path.join(base, "clusters", CLUSTER, "agg", "users")))
    months = len(os.listdir(os.path.join(base, "clusters", CLUSTER, "agg", "rollups", "daily")))
    print("SLURM Scoreboard poll tick benchmark, {}; {}".format(time.strftime("%Y-%m-%d %H:%M UTC"),
                                                                bc.source_state()))
    print("root: {:,} user files, {} months of daily rollups; {} runs (median, min, max)".format(
        users, months, args.runs))
    for label, runs in (("idle tick (nothing new)", idle), ("busy tick", busy)):
        if not runs:
            continue
        cpu = [r["cpu"] for r in runs]
        wall = [r["wall"] for r in runs]
        rss = [r["rss_kib"] / 1024.0 for r in runs]
        print("{:<26} collector CPU {:.3f} s ({:.3f}..{:.3f}), wall {:.2f} s, peak RSS {:.1f} MiB, new jobs {}".format(
            label, statistics.median(cpu), min(cpu), max(cpu), statistics.median(wall), statistics.median(rss),
            sorted({r["new"] for r in runs})))
    print("total bench time {:.0f} s".format(time.time() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())

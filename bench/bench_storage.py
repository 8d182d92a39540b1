#!/usr/bin/env python3
"""Storage benchmark: bytes on disk after 36 months x 6 clusters x 5,000 users, against spec section 17.

    python3 bench/bench_storage.py [--months 36] [--clusters 6] [--users 5000] [--jobs-per-day 50000]

Stdlib only. Writes one cluster's files with the product's own writers (sb.store.rollups daily_json,
monthly_json and user_json, sb.store.leaderboards.board_json, sb.collect.seen.SeenShard.write) into a temp
directory, measures them, and multiplies by the number of clusters (every cluster has the same shape). Seen
files are costly to build (every identity is a Python int on the way), so one month's jobs are built at the
full job count, each identity filed under its Submit month as the collector files it (the month's long jobs
reach into the month before), and the bytes per month of jobs are multiplied by the months; --seen-months N
builds N months to check that the size is steady. Every file is read back and every identity looked up, so
the figure is for files that hold exactly what was put in. See bench/README.md for the activity model and
the figures.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "src"))

from sb.store.layout import WINDOWS  # noqa: E402
from sb.store.leaderboards import board_json  # noqa: E402
from sb.store.counters import add_into, zero  # noqa: E402
from sb.store.rollups import by_user, daily_json, month_totals, monthly_json, user_json  # noqa: E402
from sb.collect.seen import SeenShard, shard_of  # noqa: E402
from sb.timeutil import DAY, month_start, next_month  # noqa: E402

MB = 1e6
# spec section 17, upper ends of the ranges
BUDGETS = {"rollups": 600 * MB, "seen": 50 * MB, "boards+users": 50 * MB}


def usernames(count, rng):
    """Unix-like names, 3 to 10 characters (median about 7)."""
    names = set()
    while len(names) < count:
        stem = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7)))
        names.add(stem + str(rng.randint(0, 999)) if rng.random() < 0.5 else stem + rng.choice("aeiou"))
    return sorted(names)


def counters(rng, jobs):
    """Plausible integer counters for `jobs` jobs of one user on one day (COLUMNS order: seconds, bytes,
    CPU-ms, byte-seconds, as the collector keeps them)."""
    elapsed = sum(rng.randint(60, 86400) for _ in range(min(jobs, 3))) * max(1, jobs // 3)
    gpu = rng.random() < 0.15
    gpu_jobs = rng.randint(1, jobs) if gpu else 0
    cores = elapsed * rng.choice((1, 4, 8, 16, 64))
    req = jobs * rng.choice((4096, 16384, 65536, 262144)) << 20
    used = jobs * rng.randint(2000, 8000000) << 10
    sampled = rng.randint(0, jobs)
    return [jobs, gpu_jobs, rng.randint(0, jobs // 10 + 1) if rng.random() < 0.3 else 0, elapsed,
            cores, elapsed // 3 if gpu else 0, elapsed // 2 if gpu else 0,
            req, jobs * rng.randint(1000, 4000000) << 10, used,
            int(cores * 1000 * rng.random()), elapsed * rng.randint(1, 4), elapsed, elapsed // rng.randint(1, 9),
            sampled, req * elapsed // max(1, jobs), used * elapsed // max(1, jobs), gpu_jobs // 2,
            elapsed // 4 if gpu else 0, elapsed * rng.randint(0, 100) // 4 if gpu else 0]


def groups_of(users, rng, accounts=300, partitions=6):
    """Each user's (account, partition) pairs: one, or for half of them two (about 1.5 a user)."""
    names = ["acct{:03d}".format(n) for n in range(accounts)]
    parts = ["cpu", "gpu", "standby", "highmem", "debug", "long"][:partitions]
    mine = {}
    for user in users:
        pairs = [(rng.choice(names), rng.choice(parts))]
        if rng.random() < 0.5:
            pairs.append((pairs[0][0] if rng.random() < 0.7 else rng.choice(names), rng.choice(parts)))
        mine[user] = sorted(set(pairs))
    return mine


def month_names(first, count):
    months, month = [], first
    for _ in range(count):
        months.append(month)
        month = next_month(month)
    return months


def write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return len(data)


def seen_month(month, jobs, rng, first_id):
    """A month's identities: mostly consecutive job ids (arrays, hets and requeues included), plus a tail of
    long jobs with older ids, as a real month looks. (The tail's ids are drawn from the ids before the
    month's, with random Submits: in a run of several months some of them collide with the month before's
    identities, which the seen files keep as requeue-like exceptions. Real ids collide less.)"""
    keys = []
    submit = float(month_start(month) - DAY)
    gap = 30.0 * DAY / jobs
    job_id = first_id
    for _ in range(jobs):
        job_id += 1 if rng.random() < 0.97 else rng.randint(2, 5)      # ids are given at submit, in order
        submit += rng.expovariate(1 / gap)
        if rng.random() < 0.01:                                         # a long job submitted up to 14 d before
            keys.append((first_id - rng.randint(1, jobs // 4 + 1)) << 32 | int(submit - rng.randint(1, 14 * DAY)))
        else:
            keys.append(job_id << 32 | int(submit))
    return keys, job_id


def seen_files(work, months, jobs, rng):
    """The seen files of `months` months of `jobs` jobs each, every identity filed under its Submit month:
    (bytes, identities, files), after reading each file back and looking every identity up in it."""
    shards, first_id, everything = {}, 1000000, set()
    for month in months:
        keys, first_id = seen_month(month, jobs, rng, first_id)
        for key in keys:
            shard = shards.get(shard_of(key))
            if shard is None:
                shard = shards[shard_of(key)] = SeenShard(shard_of(key))
            shard.add(key)
        everything.update(keys)
    total = 0
    for name, shard in sorted(shards.items()):
        path = os.path.join(work, "submit-" + name + ".seen")
        with open(path, "wb") as handle:
            shard.write(handle)
        total += os.path.getsize(path)
        back = SeenShard.open(name, path)
        assert back.count == len(shard.added) and all(key in back for key in sorted(shard.added)), name
        assert not any((key + 1) in back for key in shard.added if key + 1 not in everything), name
        back.close()
        os.remove(path)
    return total, len(everything), len(shards)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--users", type=int, default=5000, help="users per cluster (default 5000)")
    parser.add_argument("--jobs-per-day", type=int, default=50000, help="jobs ending per day per cluster")
    parser.add_argument("--monthly-active", type=float, default=0.6, help="share of users with a job in a month")
    parser.add_argument("--daily-active", type=float, default=0.25, help="share of a month's users active on a day")
    parser.add_argument("--seen-months", type=int, default=1,
                        help="months of jobs whose seen files are built at full size (default 1)")
    parser.add_argument("--keep-daily-months", type=int, default=13,
                        help="months of daily rollups a 365-day window needs (pruning figure)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    began = time.time()
    work = tempfile.mkdtemp(prefix="sb-storage-")
    try:
        return run(args, rng, work, began)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, rng, work, began):
    users = usernames(args.users, rng)
    pairs = groups_of(users, rng)
    months = month_names("2023-01", args.months)
    sizes = {"daily": [], "monthly": [], "users": 0, "boards": 0}
    totals = {}
    daily_rows = 0
    for month in months:
        active = rng.sample(users, int(len(users) * args.monthly_active))
        weights = [1.0 / (rank + 1) for rank in range(len(active))]            # Zipf over the month's users
        first_day = month_start(month) // DAY
        days_in_month = (month_start(next_month(month)) // DAY) - first_day
        daily = {}
        for day in range(days_in_month):
            on_day = rng.sample(range(len(active)), max(1, int(len(active) * args.daily_active)))
            share = sum(weights[i] for i in on_day)
            rows = daily["%02d" % (day + 1)] = {}
            for i in on_day:
                jobs = max(1, int(args.jobs_per_day * weights[i] / share))
                for account, partition in pairs[active[i]]:     # a user with two pairs used both that day
                    rows[active[i], account, partition] = counters(rng, max(1, jobs // len(pairs[active[i]])))
            daily_rows += len(rows)
        sizes["daily"].append(write(os.path.join(work, "daily-" + month + ".json"), daily_json(month, daily)))
        per_user = month_totals(daily)
        sizes["monthly"].append(write(os.path.join(work, "monthly-" + month + ".json"),
                                      monthly_json(month, per_user, time.time())))
        for key, value in per_user.items():
            add_into(totals.setdefault(key, zero()), value)
    for user, split in by_user(totals).items():
        sizes["users"] += write(os.path.join(work, "user.json"), user_json(user, "hammer", split, time.time()))
    for window, filename, _ in WINDOWS:      # every window holds (nearly) every user: the upper bound
        sizes["boards"] += write(os.path.join(work, filename + ".json"),
                                 board_json(window, "hammer", 3, totals, time.time(), 100))
    seen_jobs = args.jobs_per_day * 30
    seen_total, seen_identities, seen_count = seen_files(work, months[:args.seen_months], seen_jobs, rng)

    c, n = args.clusters, args.months
    seen_bytes = seen_total / args.seen_months
    seen_per_job = seen_total / seen_identities
    daily, monthly = sum(sizes["daily"]) * c, sum(sizes["monthly"]) * c
    kept = sum(sizes["daily"][-args.keep_daily_months:]) * c
    rows = [
        ("monthly rollups", n * c, monthly),
        ("daily rollups (all {} months)".format(n), n * c, daily),
        ("  of which the last {} months".format(args.keep_daily_months), args.keep_daily_months * c, kept),
        ("user files", len(by_user(totals)) * c, sizes["users"] * c),
        ("leaderboards (3 windows)", 3 * c, sizes["boards"] * c),
        ("seen files ({:,} jobs/month each; extrapolated)".format(seen_jobs), n * c, seen_bytes * n * c),
    ]
    print("SLURM Scoreboard storage benchmark, {}".format(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    print("model: {} months x {} clusters x {:,} users; {:.0%} of users active in a month, {:.0%} of those on "
          "a day (Zipf weights); {:,} jobs/day/cluster; seed {}".format(
              n, c, args.users, args.monthly_active, args.daily_active, args.jobs_per_day, args.seed))
    print("one cluster: {:,} (user, account, partition)-day rows in the daily rollups, {:,} users with data; seen files built for {} "
          "month(s) of jobs ({:,} identities in {} Submit-month files, each read back and checked): {:.2f} "
          "B/job".format(daily_rows, len(by_user(totals)), args.seen_months, seen_identities, seen_count, seen_per_job))
    print()
    print("{:<52}{:>8}{:>14}{:>12}".format("kind", "files", "bytes", "MB"))
    for label, files, size in rows:
        print("{:<52}{:>8,}{:>14,.0f}{:>12.1f}".format(label, files, size, size / MB))
    print()
    checks = [
        ("rollups, monthly + all daily", monthly + daily, BUDGETS["rollups"]),
        ("rollups, monthly + daily pruned to {} months".format(args.keep_daily_months), monthly + kept,
         BUDGETS["rollups"]),
        ("leaderboards + all-time (user files)", (sizes["users"] + sizes["boards"]) * c, BUDGETS["boards+users"]),
        ("seen files", seen_bytes * n * c, BUDGETS["seen"]),
    ]
    print("{:<52}{:>12}{:>12}  {}".format("spec section 17 budget", "MB", "budget MB", "verdict"))
    for label, size, budget in checks:
        print("{:<52}{:>12.1f}{:>12.0f}  {}".format(label, size / MB, budget / MB,
                                                   "within" if size <= budget else "OVER"))
    print("seen files per job: {:.2f} B; the budget's '10-50 MB for tens of millions of jobs' is 1.7-5 B/job "
          "at 30M jobs".format(seen_per_job))
    print("total bench time {:.0f} s".format(time.time() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())

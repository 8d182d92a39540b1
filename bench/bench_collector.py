#!/usr/bin/env python3
"""Collector benchmark: how fast sacct text becomes counted jobs, and what a backfill costs end to end.

    python3 bench/bench_collector.py [--jobs 100000] [--runs 3] [--keep-dir DIR] [--profile]

Stdlib only. Every figure is the median of --runs runs, with min and max. See bench/README.md for what
each figure means. Nothing under src/, vendor/ or tests/ is changed: bytecode caches go to the work
directory (sys.pycache_prefix / PYTHONPYCACHEPREFIX), and the collector writes only into scratch roots.

Sections (numbers match the printed table):
  0  input: a seeded synthetic month (2024-01) of N jobs from bench/gen_sacct.py, served by the fake
     sacct (tests/fake_sacct.py); its output for the collector's own command (field list, delimiter,
     -S/-E of the month) is saved once, so 1-3 read identical bytes.
  1  bare loop: `for line in f: line.split(DELIMITER)` over that file.
  2  parse+fold: sb.collect.jobs.fold_jobs over the same file.
  3  hot path: fold_jobs + dedupe into fresh SeenShards + Batch.add, i.e. collect.intake.Intake.take with
     no opt-outs and no commit (no file writes); ratio to the bare loop.
  4  end to end: `slurm-sb backfill` of the month through the fake sacct, in a subprocess; wall time,
     CPU and peak RSS of the collector process alone (getrusage(RUSAGE_SELF) taken inside it), the
     fake sacct's CPU separately (RUSAGE_CHILDREN), and /usr/bin/time -v's max RSS of the process tree.
  5  dedupe footprint: bytes of the seen files per job (state/seen/submit-*.seen); `key in seen` cost per
     key for present and absent keys on a SeenShard opened from submit-2024-01.seen.
  6  re-runs on the filled root: the same backfill command again, and a re-read of the month
     (`backfill --since 2024-01 --until 2024-01`: every job read again, all already counted).
"""
import argparse
import gc
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = os.path.join(REPO, "src")
VENDOR = os.path.join(REPO, "vendor")
TESTS = os.path.join(REPO, "tests")

CLUSTER = "hammer"
MONTH = "2024-01"
GEN_START = "2024-01-01"
GEN_DAYS = 31
NOW = "2024-02-05T00:00:00"
RATIO_TARGET = 2.0

# Runs the CLI in this process, then records this process's own rusage (and its children's, i.e. the
# fake sacct's) in the file named by $SB_BENCH_RUSAGE. Argument 1: "-m" (python -m sb) or a .pyz path.
DRIVER = r'''
import json, os, resource, runpy, sys
out = os.environ.pop("SB_BENCH_RUSAGE")
target = sys.argv[1]
code = 0
try:
    if target == "-m":
        sys.argv = ["slurm-sb"] + sys.argv[2:]
        runpy.run_module("sb", run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target] + sys.argv[2:]
        runpy.run_path(target, run_name="__main__")
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as handle:
    json.dump({"self": [me.ru_utime, me.ru_stime, me.ru_maxrss],
               "children": [kids.ru_utime, kids.ru_stime, kids.ru_maxrss]}, handle)
sys.exit(code)
'''


# ---- machine and input -----------------------------------------------------------------------------

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": usable,
            "python": "{} {}".format(platform.python_implementation(), platform.python_version()),
            "system": "{} {}".format(platform.system(), platform.release()),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load": "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg")
            else "load average n/a"}


def source_state():
    """Commit of the measured tree and whether src/ differs from it (read-only git calls)."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", REPO] + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "src")
    return commit + (" (src/ modified)" if dirty else "")


def file_sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


def prepare_input(work, args, sb):
    """The .db (cached by parameters) and the exact text sacct prints for the collector's month window."""
    import gen_sacct
    import fake_sacct
    db_dir = os.path.join(work, "db")
    os.makedirs(db_dir, exist_ok=True)
    db = os.path.join(db_dir, CLUSTER + ".db")
    text = os.path.join(work, "sacct-{}.txt".format(MONTH))
    meta_path = os.path.join(work, "input.json")
    wanted = {"jobs": args.jobs, "seed": args.seed, "users": args.users, "start": GEN_START,
              "days": GEN_DAYS, "cluster": CLUSTER, "gen_sacct": file_sha(gen_sacct.__file__),
              "fake_sacct": file_sha(fake_sacct.__file__), "fields": None}
    sacct = fake_sacct.install_fake_sacct(os.path.join(work, "bin"), db_dir)
    os.environ["FAKE_SACCT_DB_DIR"] = db_dir  # for sacct.known_fields, which passes os.environ on
    fields, tres_memory = sb.sacct.choose_fields(sb.sacct.known_fields(sacct))
    assert tuple(fields) == sb.jobs.FIELDS and not tres_memory, fields
    wanted["fields"] = list(fields)
    meta = None
    if os.path.exists(meta_path) and os.path.exists(db) and os.path.exists(text):
        with open(meta_path) as handle:
            meta = json.load(handle)
        if meta.get("params") != wanted:
            meta = None
    if meta is None:
        began = time.perf_counter()
        with open(db, "w", encoding="ascii", newline="\n") as out:
            counts = gen_sacct.generate(out, args.jobs, args.seed, start=GEN_START, days=GEN_DAYS,
                                        users=args.users, cluster=CLUSTER)
        gen_seconds = time.perf_counter() - began
        argv = sb.sacct.command(sacct, CLUSTER, sb.timeutil.month_start(MONTH), sb.timeutil.month_end(MONTH),
                                fields)
        env = sb.sacct.sacct_env(dict(os.environ, FAKE_SACCT_DB_DIR=db_dir))
        env.pop("FAKE_SACCT_LOG", None)
        with open(text, "wb") as out:
            subprocess.run(argv, stdout=out, env=env, check=True)
        with open(text, "rb") as handle:
            lines = sum(1 for _ in handle)
        meta = {"params": wanted, "gen": counts, "gen_seconds": gen_seconds, "argv": argv[1:],
                "lines": lines, "bytes": os.path.getsize(text), "db_bytes": os.path.getsize(db)}
        with open(meta_path, "w") as handle:
            json.dump(meta, handle, indent=1)
        meta["cached"] = False
    else:
        meta["cached"] = True
    return sacct, db_dir, text, fields, meta


# ---- in-process figures ----------------------------------------------------------------------------

def open_text(path):
    # as sacct.stream reads the pipe: utf-8, errors replaced, 64 KiB buffer
    return open(path, encoding="utf-8", errors="replace", buffering=1 << 16)


def bare_loop(path, delimiter):
    with open_text(path) as f:
        for line in f:
            line.split(delimiter)


def parse_fold(path, delimiter, failure_states, sb):
    report, jobs = sb.jobs.LineReport(), 0
    with open_text(path) as f:
        for _ in sb.jobs.fold_jobs(f, delimiter, report, failure_states):
            jobs += 1
    return jobs, report


class _NoFiles:
    """What collect.intake.Intake asks of its engine, minus the files: nobody opted out, no month seen yet."""

    def __init__(self, sb):
        self.sb = sb

    @staticmethod
    def optout(user):
        return False

    def load_seen(self, key):
        return self.sb.seen.SeenShard(self.sb.seen.shard_of(key))


def hot_path(path, delimiter, failure_states, sb):
    """The product's own collect.intake.Intake over fold_jobs, as a full backfill runs it, minus the commit."""
    intake = sb.intake.Intake(_NoFiles(sb))
    with open_text(path) as f:
        intake.take(sb.jobs.fold_jobs(f, delimiter, intake.report, failure_states))
    return intake.batch, intake.seen, intake.report


def timed(fn, *args):
    gc.collect()
    began = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - began, result


# ---- subprocess figures ----------------------------------------------------------------------------

class Runner:
    def __init__(self, work, sacct, db_dir, pyz=None):
        self.work = work
        self.sacct = sacct
        self.driver = os.path.join(work, "driver.py")
        with open(self.driver, "w") as handle:
            handle.write(DRIVER)
        self.target = os.path.abspath(pyz) if pyz else "-m"
        self.time_v = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
        home = os.path.join(work, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLURM_SB_", "FAKE_SACCT_", "PYTHON"))}
        env.update(HOME=home, FAKE_SACCT_DB_DIR=db_dir, PYTHONPYCACHEPREFIX=os.path.join(work, "pycache"),
                   SHIV_ROOT=os.path.join(work, "shiv"))
        if not pyz:
            env["PYTHONPATH"] = os.pathsep.join((SRC, VENDOR))
        self.env = env

    def command(self, argv, timing):
        """argv started from a small intermediate process, never straight from this one.

        Linux folds the memory high-water mark of the process image replaced by exec into the new
        program's ru_maxrss; a child spawned (vfork/fork + exec) straight from this benchmark, which
        holds the parsed input, would report this process's RSS as its own. /usr/bin/time (or sh)
        forks the collector from its own few-MiB image instead.
        """
        if self.time_v:
            return [self.time_v, "-v", "-o", timing] + argv
        return ["/bin/sh", "-c", '"$@"; exit $?', "sh"] + argv

    def run(self, root, *extra):
        """One backfill run; returns a dict of wall, cpu, rss figures and the new-job count."""
        return self.run_cli(["backfill", "--root", root, "--cluster", CLUSTER, "--now", NOW,
                             "-o", "backfill_start=" + MONTH] + list(extra))

    def run_cli(self, argv):
        """One collector run of `argv` (with this fake sacct and no rate limit); figures as run() says."""
        argv = list(argv) + ["-o", "sacct=" + self.sacct, "-o", "rate_limit_per_min=0"]
        usage = os.path.join(self.work, "rusage.json")
        timing = os.path.join(self.work, "time-v.txt")
        for path in (usage, timing):
            if os.path.exists(path):
                os.remove(path)
        command = self.command([sys.executable, self.driver, self.target] + argv, timing)
        env = dict(self.env, SB_BENCH_RUSAGE=usage)
        gc.collect()
        began = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
        wall = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit("collector run failed ({}):\n{}\n{}".format(done.returncode, done.stdout, done.stderr))
        with open(usage) as handle:
            rusage = json.load(handle)
        found = re.search(r"(\d+) new job\(s\) in (\d+) window", done.stdout)
        result = {"wall": wall, "cpu": rusage["self"][0] + rusage["self"][1], "rss_kib": rusage["self"][2],
                  "sacct_cpu": rusage["children"][0] + rusage["children"][1],
                  "new": int(found.group(1)) if found else None, "windows": int(found.group(2)) if found else None,
                  "tree_rss_kib": None}
        if self.time_v and os.path.exists(timing):
            with open(timing) as handle:
                peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", handle.read())
            result["tree_rss_kib"] = int(peak.group(1)) if peak else None
        return result

    def warm_up(self):
        """Import every collector module once, so the timed runs find their bytecode cached (the work dir)."""
        code = "import sb.cli, sb.collect.engine, sb.collect.poll_cmd" if self.target == "-m" else "pass"
        subprocess.run([sys.executable, "-c", code], env=self.env, check=True)
        if self.target != "-m":  # first start of a pyz unpacks it
            subprocess.run([sys.executable, self.target, "--version"], env=self.env, check=True,
                           stdout=subprocess.DEVNULL)

    def idle_rss(self):
        """Peak RSS of a collector process that only imports the CLI and prints its version (baseline)."""
        usage = os.path.join(self.work, "rusage.json")
        timing = os.path.join(self.work, "time-v.txt")
        subprocess.run(self.command([sys.executable, self.driver, self.target, "--version"], timing),
                       check=True, env=dict(self.env, SB_BENCH_RUSAGE=usage), stdout=subprocess.DEVNULL)
        with open(usage) as handle:
            return json.load(handle)["self"][2]


# ---- dedupe footprint ------------------------------------------------------------------------------

def seen_file_parts(data, sb):
    """(blocks, identities, bytes of magic + header + index) of a format 3 seen file; the rest is payloads."""
    seen = sb.seen
    _, blocks, identities, _ = seen.HEAD.unpack_from(data, len(seen.MAGIC))
    return blocks, identities, len(seen.MAGIC) + seen.HEAD.size + seen.ENTRY.size * blocks


def lookups(path, keys, sb):
    """Per-key lookup costs on a SeenShard opened from the month's file, as the collector opens it.

    present, in job id order: how a sacct stream meets them (each block decoded once);
    present, random order: the worst case (blocks evicted from the 64-block cache and decoded again);
    absent: keys of the month's job ids with another Submit (a requeued run), random order, so they land
    in existing blocks (decoded, then one bit test and one compare each)."""
    gc.collect()
    began = time.perf_counter()
    seen = sb.seen.SeenShard.open(MONTH, path)
    loaded = time.perf_counter()
    assert keys["random"][0] in seen  # the first hit decodes one block
    decoded = time.perf_counter()
    figures = {"load": loaded - began, "decode": decoded - loaded}
    for name in ("ordered", "random", "absent"):
        seen.close()
        seen = sb.seen.SeenShard.open(MONTH, path)   # cold caches for each figure
        started = time.perf_counter()
        for key in keys[name]:
            key in seen  # noqa: B015 - the lookup is the measured work
        figures[name] = (time.perf_counter() - started) / len(keys[name])
    seen.close()
    return figures


# ---- table -----------------------------------------------------------------------------------------

def fmt(value, spec):
    if value is None:
        return "n/a"
    return format(value, spec)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, label, values, unit, spec=",.0f", note=""):
        values = [v for v in values if v is not None]
        if not values:
            self.rows.append((label, "n/a", "", "", unit, note))
            return
        self.rows.append((label, fmt(statistics.median(values), spec), fmt(min(values), spec),
                          fmt(max(values), spec), unit, note))

    def section(self, title):
        self.rows.append((title,))

    def render(self):
        width = max(len(r[0]) for r in self.rows if len(r) > 1) + 2
        out = ["{:<{w}}{:>13}{:>13}{:>13}  {}".format("figure", "median", "min", "max", "unit", w=width)]
        for row in self.rows:
            if len(row) == 1:
                out.append(row[0])
                continue
            label, med, low, high, unit, note = row
            line = "{:<{w}}{:>13}{:>13}{:>13}  {}".format(label, med, low, high, unit, w=width)
            out.append(line + ("  " + note if note else ""))
        return "\n".join(out)


def ratios(numerators, denominators):
    return [n / d for n, d in zip(numerators, denominators)]


# ---- main ------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100000, help="jobs in the synthetic month (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; medians are reported (default 3)")
    parser.add_argument("--keep-dir", help="work directory to keep (input cache, roots); default: a temp dir, removed")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--users", type=int, default=200, help="distinct users in the month (default 200)")
    parser.add_argument("--lookups", type=int, default=100000, help="present and absent keys timed (default 100000)")
    parser.add_argument("--pyz", help="run the end-to-end figures through this built slurm-sb.pyz instead of src/")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of one in-process hot path run (top 15 by tottime)")
    parser.add_argument("--skip-e2e", action="store_true", help="only the in-process figures (1-3)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")

    return in_work_dir(args, "sb-bench-", bench)


def in_work_dir(args, prefix, run):
    """run(args, work) in --keep-dir or a temporary directory (removed after), with src/, tests/ importable."""
    work = os.path.abspath(args.keep_dir) if args.keep_dir else tempfile.mkdtemp(prefix=prefix)
    os.makedirs(work, exist_ok=True)
    sys.pycache_prefix = os.path.join(work, "pycache")  # keep src/, bench/, tests/ free of __pycache__
    for path in (TESTS, HERE, VENDOR, SRC):
        sys.path.insert(0, path)
    try:
        return run(args, work)
    finally:
        if not args.keep_dir:
            shutil.rmtree(work, ignore_errors=True)


def bench(args, work):
    import types
    import sb.collect.intake
    import sb.collect.jobs
    import sb.collect.sacct
    import sb.collect.seen
    import sb.timeutil
    sb_mods = types.SimpleNamespace(intake=sb.collect.intake, jobs=sb.collect.jobs, sacct=sb.collect.sacct,
                                    seen=sb.collect.seen, timeutil=sb.timeutil)
    failure_states = sb.collect.jobs.DEFAULT_FAILURE_STATES
    started = time.perf_counter()

    info = machine()
    print("SLURM Scoreboard collector benchmark, {}".format(info["date"]))
    print("machine: {}, {} cores ({} usable), {}, {}; {} at start".format(
        info["cpu"], info["cores"], info["usable_cores"], info["python"], info["system"], info["load"]))
    print("source:  {} at {}".format(os.path.relpath(args.pyz) if args.pyz else "src/", source_state()))

    sacct, db_dir, text, fields, meta = prepare_input(work, args, sb_mods)
    gen = meta["gen"]
    print("input:   {:,} jobs generated (seed {}, {} users, {} +{} d, {}), {:,} sacct lines ({:.1f} lines/job), "
          "{:.1f} MB; {} (generated in {:.1f} s)".format(
              gen["jobs"], args.seed, args.users, GEN_START, GEN_DAYS, "cached" if meta["cached"] else "new",
              meta["lines"], meta["lines"] / max(gen["jobs"], 1), meta["bytes"] / 1e6, work if args.keep_dir
              else "temp dir", meta["gen_seconds"]))
    print("runs:    {} (median, min, max); in-process figures read {}".format(args.runs, os.path.basename(text)))
    sys.stdout.flush()

    layout = sb.collect.sacct.DELIMITER
    lines = meta["lines"]
    t_bare, t_fold, t_hot = [], [], []
    jobs_folded = counted = None
    for _ in range(args.runs):
        t_bare.append(timed(bare_loop, text, sb.collect.sacct.DELIMITER)[0])
        seconds, (jobs_folded, report) = timed(parse_fold, text, layout, failure_states, sb_mods)
        t_fold.append(seconds)
        seconds, (batch, seen, hot_report) = timed(hot_path, text, layout, failure_states, sb_mods)
        t_hot.append(seconds)
        counted = batch.jobs
        del batch, seen

    table = Table()
    table.section("1 bare loop  for line in f: line.split(DELIM)")
    table.add("  lines/s", [lines / t for t in t_bare], "lines/s")
    table.add("  time", t_bare, "s", ".3f")
    table.section("2 parse+fold  fold_jobs")
    table.add("  lines/s", [lines / t for t in t_fold], "lines/s")
    table.add("  jobs/s", [jobs_folded / t for t in t_fold], "jobs/s")
    table.add("  ratio to bare loop", ratios(t_fold, t_bare), "x", ".2f")
    table.section("3 hot path  fold_jobs + SeenShard dedupe + Batch.add")
    table.add("  lines/s", [lines / t for t in t_hot], "lines/s")
    table.add("  jobs/s", [counted / t for t in t_hot], "jobs/s")
    table.add("  time", t_hot, "s", ".3f")
    hot_ratio = ratios(t_hot, t_bare)
    table.add("  RATIO to bare loop", hot_ratio, "x", ".2f",
              "target <= {:.0f}x: {}".format(RATIO_TARGET, "met" if statistics.median(hot_ratio) <= RATIO_TARGET
                                              else "NOT met"))
    problems = {k: v for k, v in sorted(hot_report.counts.items())}

    e2e = None
    if not args.skip_e2e:
        runner = Runner(work, sacct, db_dir, args.pyz)
        runner.warm_up()
        idle = runner.idle_rss()
        first, again, reread = [], [], []
        roots = os.path.join(work, "roots")
        shutil.rmtree(roots, ignore_errors=True)
        for i in range(args.runs):
            root = os.path.join(roots, "run{}".format(i))
            first.append(runner.run(root))
            again.append(runner.run(root))
            reread.append(runner.run(root, "--since", MONTH, "--until", MONTH))
            if i < args.runs - 1:
                shutil.rmtree(root, ignore_errors=True)
        e2e = (first, again, reread, idle, root)

        mib = 1 / 1024.0
        table.section("4 backfill end to end  (collector subprocess; fake sacct is its child)")
        table.add("  wall", [r["wall"] for r in first], "s", ".2f")
        table.add("  collector CPU (user+sys)", [r["cpu"] for r in first], "s", ".2f")
        table.add("  collector peak RSS", [r["rss_kib"] * mib for r in first], "MiB", ".1f",
                  "idle CLI process: {:.1f} MiB".format(idle * mib))
        table.add("  fake sacct CPU (children)", [r["sacct_cpu"] for r in first], "s", ".2f")
        table.add("  tree max RSS (/usr/bin/time -v)",
                  [r["tree_rss_kib"] * mib if r["tree_rss_kib"] else None for r in first], "MiB", ".1f",
                  "max of collector and fake sacct")
        table.add("  jobs/s (new jobs / wall)", [r["new"] / r["wall"] for r in first if r["new"]], "jobs/s")

        seen_dir = os.path.join(root, "clusters", CLUSTER, "state", "seen")
        names = sorted(n for n in os.listdir(seen_dir) if n.endswith(".seen"))
        all_bytes = sum(os.path.getsize(os.path.join(seen_dir, n)) for n in names)
        seen_path = os.path.join(seen_dir, "submit-{}.seen".format(MONTH))
        with open(seen_path, "rb") as handle:
            data = handle.read()
        blocks, n, head = seen_file_parts(data, sb_mods)
        all_n = sum(seen_file_parts(open(os.path.join(seen_dir, name), "rb").read(), sb_mods)[1] for name in names)
        keys = set()
        with open_text(text) as f:
            for job in sb.collect.jobs.fold_jobs(f, layout, sb.collect.jobs.LineReport(), failure_states):
                if sb.collect.seen.shard_of(job.key) == MONTH:
                    keys.add(job.key)
        keys = sorted(keys)
        rng = random.Random(args.seed)
        picked = rng.choices(keys, k=args.lookups)
        known = set(keys)
        absent = [k + 1 for k in rng.choices(keys, k=args.lookups)
                  if k + 1 not in known and sb.collect.seen.shard_of(k + 1) == MONTH]
        probe = {"ordered": sorted(picked), "random": picked, "absent": absent}
        looks = [lookups(seen_path, probe, sb_mods) for _ in range(args.runs)]
        table.section("5 dedupe  {} seen file(s) (by Submit month): {:,} bytes for {:,} jobs; submit-{}.seen: {:,} "
                      "bytes for {:,} jobs in {:,} blocks (header and index {:,} B)".format(
                          len(names), all_bytes, all_n, MONTH, len(data), n, blocks, head))
        table.add("  file bytes per job", [all_bytes / all_n], "B/job", ".2f",
                  "submit-{}.seen alone: {:.2f}".format(MONTH, len(data) / n))
        table.add("  lookup, present key, id order", [x["ordered"] * 1e6 for x in looks], "us/key", ".2f",
                  "as a sacct stream meets them")
        table.add("  lookup, present key, random order", [x["random"] * 1e6 for x in looks], "us/key", ".2f",
                  "worst case: a block decode per cache miss")
        table.add("  lookup, absent key (other Submit)", [x["absent"] * 1e6 for x in looks], "us/key", ".2f",
                  "{:,} keys in the month's blocks".format(len(absent)))
        table.add("  open file (header + index)", [x["load"] * 1e3 for x in looks], "ms", ".2f")
        table.add("  first hit: decode one block", [x["decode"] * 1e3 for x in looks], "ms", ".2f")

        table.section("6 re-runs on the filled root")
        table.add("  same backfill again: wall", [r["wall"] for r in again], "s", ".2f",
                  "new jobs: {}".format(sorted({r["new"] for r in again})))
        table.add("  same backfill again: collector CPU", [r["cpu"] for r in again], "s", ".2f")
        table.add("  re-read {} (--since/--until): wall".format(MONTH), [r["wall"] for r in reread], "s", ".2f",
                  "new jobs: {}".format(sorted({r["new"] for r in reread})))
        table.add("  re-read {}: collector CPU".format(MONTH), [r["cpu"] for r in reread], "s", ".2f")
        table.add("  re-read {}: collector peak RSS".format(MONTH), [r["rss_kib"] * mib for r in reread], "MiB",
                  ".1f")
        table.add("  re-read {}: fake sacct CPU".format(MONTH), [r["sacct_cpu"] for r in reread], "s", ".2f")

    print()
    print(table.render())
    print()
    print("checks:  hot path counted {:,} jobs (fold_jobs yielded {:,}); line report {}".format(
        counted, jobs_folded, problems))
    if e2e:
        first = e2e[0]
        new = sorted({r["new"] for r in first})
        print("         backfill counted {} new job(s) in {} window(s) per run: {}".format(
            new, sorted({r["windows"] for r in first}), "matches the hot path" if new == [counted]
            else "DIFFERS from the hot path"))
    print("total bench time {:.0f} s; {} at end".format(time.perf_counter() - started, machine()["load"]))
    sys.stdout.flush()

    if args.profile:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        gc.collect()
        profiler.enable()
        hot_path(text, layout, failure_states, sb_mods)
        profiler.disable()
        print()
        print("cProfile of one hot path run (fold_jobs + dedupe + Batch.add), top 15 by tottime:")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())

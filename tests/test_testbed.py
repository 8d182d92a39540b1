"""The collector, doctor and discover against a real two-cluster SLURM (tests/testbed), run as an
ordinary user; every total is checked against an independent computation from a plain sacct dump."""
import json
import os
import shutil
import sys
import time

import pytest

from conftest import HERE, assert_same_totals, require_or_skip
import oracle
from conftest import V2_DUMP_FIELDS, load_json
from sb.store import counters
from test_collector import assert_close_to_oracle

pytestmark = pytest.mark.slow
sys.path.insert(0, os.path.join(HERE, "testbed"))
try:
    import testbed
    READY, WHY = testbed.available()
except (ImportError, SyntaxError) as err:  # the testbed module needs Python ≥ 3.7; the product does not
    testbed, READY, WHY = None, False, "testbed module not importable here: {}".format(err)

CLUSTERS = ("hammer", "negishi")
COLLECTOR = "sbcollector"
DUMP_FIELDS = "JobID,JobIDRaw,User,State,ElapsedRaw,AllocCPUS,NNodes,ReqMem,ReqTRES,AllocTRES,MaxRSS,AveRSS," \
              "Submit,Start,End"
END_STATES = "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ"
SETTLE = 5   # settle_sec for these runs: wait_accounted already saw the steps' records land


class Bed:
    """The running testbed plus a shared root and the built pyz, both usable by the collector user."""

    def __init__(self, tb, workload, pyz_path):
        self.tb, self.workload = tb, workload
        self.start_month = time.strftime("%Y-%m", time.gmtime(time.time() - 3 * 86400))
        self.pyz = os.path.join(tb.base, "slurm-sb.pyz")
        shutil.copy(pyz_path, self.pyz)
        os.chmod(self.pyz, 0o644)
        self.root = os.path.join(tb.base, "collector-root")
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        os.chmod(self.root, 0o2775)
        uid = testbed.pwd.getpwnam(COLLECTOR)
        os.chown(self.root, uid.pw_uid, uid.pw_gid)

    def run(self, command, cluster="hammer", *extra, user=COLLECTOR, env=None):
        argv = ["/usr/bin/python3", self.pyz, command, "--root", self.root, "--cluster", cluster,
                "-o", "rate_limit_per_min=0", "-o", "backfill_start=" + self.start_month,
                "-o", "settle_sec={}".format(SETTLE)] + list(extra)
        return self.tb.as_user(user, argv, cluster, extra_env=env, timeout=300)

    def accounted(self, jobs, cluster):
        """Wait until sacct shows the jobs ended, then until they are settled for the collector."""
        self.tb.wait_accounted(jobs, cluster)
        time.sleep(SETTLE + 1)

    def dump(self, cluster, end="now", fields=DUMP_FIELDS):
        """A plain `sacct -P` dump (header line, '|') of every job that ended since backfill_start (up to
        `end`, a sacct time); V2_DUMP_FIELDS adds what collector v2 reads, for the efficiency figures."""
        done = self.tb.as_user(COLLECTOR, ["sacct", "-a", "-D", "-P", "--noconvert", "-M", cluster,
                                           "-S", self.start_month + "-01", "-E", end, "-s", END_STATES,
                                           "-o", fields], cluster,
                               extra_env={"TZ": "UTC", "SLURM_TIME_FORMAT": "%s"})
        assert done.returncode == 0, done.stderr
        path = os.path.join(self.tb.base, "dump-{}-{}.txt".format(cluster, len(fields)))
        with open(path, "w") as handle:
            handle.write(done.stdout)
        return oracle.load_rows(path)

    def monthly(self, cluster, by="username"):
        """{month: {user: metrics}} from the monthly rollups: v2 has a row per (user, account, partition),
        so each row's exact counters are summed per user (or per account or partition: `by`)."""
        folder = os.path.join(self.root, "clusters", cluster, "agg", "rollups", "monthly")
        result = {}
        for name in sorted(os.listdir(folder)):
            doc = load_json(os.path.join(folder, name))      # gzip'd since format 2
            sums = {}
            for row in doc["users"]:
                counters.add_into(sums.setdefault(row[by], counters.zero()), row["counters"])
            if sums:
                result[doc["month"]] = {key: counters.all_metrics(total) for key, total in sums.items()}
        return result

    def agg_bytes(self, cluster):
        base = os.path.join(self.root, "clusters", cluster, "agg")
        return {os.path.relpath(os.path.join(d, n), base): open(os.path.join(d, n), "rb").read()
                for d, _, names in os.walk(base) for n in names if "leaderboards" not in d}

    def assert_matches_sacct(self, cluster):
        assert_close_to_oracle(self.monthly(cluster), oracle.nest_monthly(oracle.monthly_totals(self.dump(cluster))))


@pytest.fixture(scope="module")
def bed(request):
    if not READY:
        require_or_skip("real SLURM testbed unavailable: " + WHY)   # under CI=true: a failure
    pyz = request.getfixturevalue("pyz")
    tb = testbed.Testbed()
    tb.install()
    tb.start()
    workload = tb.run_workload()
    time.sleep(SETTLE + 1)
    try:
        yield Bed(tb, workload, pyz)
    finally:
        tb.set_private_data(False)
        tb.start_slurmdbd()
        tb.stop()


def test_backfill_and_poll_as_a_plain_user_match_sacct_on_both_clusters(bed):
    for cluster in CLUSTERS:
        done = bed.run("backfill", cluster)
        assert done.returncode == 0, done.stderr
        bed.assert_matches_sacct(cluster)
    assert os.stat(bed.root).st_uid == testbed.pwd.getpwnam(COLLECTOR).pw_uid
    users = {u for c in CLUSTERS for m in bed.monthly(c).values() for u in m}
    assert {"sbalice", "sbbob", "sbcarol", "sbdave", "sberin", "sbfrank"} <= users
    before = {c: bed.agg_bytes(c) for c in CLUSTERS}
    for cluster in CLUSTERS:                       # polling again changes nothing
        assert bed.run("poll", cluster).returncode == 0
        assert bed.agg_bytes(cluster) == before[cluster]


def test_efficiency_figures_per_user_account_and_partition_match_sacct(bed):
    """Collector v2 (issue 11) against the oracle over a plain sacct dump: real TotalCPU from the CPU-burning
    jobs, real MaxRSS/TRESUsageInTot from the memory ones, explicit limits, accounts, partitions."""
    for cluster in CLUSTERS:
        assert bed.run("poll", cluster).returncode == 0
        rows = bed.dump(cluster, fields=V2_DUMP_FIELDS)
        for by, key in (("user", "username"), ("account", "account"), ("partition", "partition")):
            want = {}
            for (name, month), metrics in oracle.group_totals(rows, by, monthly=True).items():
                want.setdefault(month, {})[name] = metrics
            got = bed.monthly(cluster, by=key)
            assert sorted(got) == sorted(want), (cluster, by)
            for month in want:
                assert sorted(got[month]) == sorted(want[month]), (cluster, by, month)
                for name, metrics in want[month].items():
                    for metric, value in metrics.items():
                        where = (cluster, by, month, name, metric)
                        if value is None:
                            assert got[month][name][metric] is None, where
                        else:
                            assert got[month][name][metric] == pytest.approx(value, rel=1e-9, abs=1e-9), where
        jobs = oracle.jobs(rows)
        # the cpuburn job's busy loop (3-4 s of wall time; on a loaded machine it gets ~2 s of CPU), where
        # every other job of the workload uses well under a CPU-second
        burn = [j for j in jobs if j["cpu_used_h"] * 3600 >= 1.0]
        assert burn, cluster
        assert any(j["mem_sampled"] and j["used_mem_mb_h"] > 0 for j in jobs), cluster
        assert any(j["timelimit_h"] == 10 / 60 for j in jobs), cluster   # the workload's --time=10
        assert {"physics", "chem"} <= {j["account"] for j in jobs}, cluster


def test_gpu_memory_and_failure_details_come_through(bed):
    rows = bed.dump("hammer")
    gpu_users = {r["User"] for r in rows if "gres/gpu" in r.get("AllocTRES", "") and "." not in r["JobIDRaw"]}
    monthly = bed.monthly("hammer")
    assert gpu_users and all(any(m.get(u, {}).get("gpu_jobs", 0) for m in monthly.values()) for u in gpu_users)
    assert any(m[u]["sum_max_mem_mb"] > 100 for m in monthly.values() for u in m)      # a job used ~hundreds of MB
    assert any(m[u]["failed_jobs"] for m in monthly.values() for u in m)


def test_a_running_job_counts_once_after_it_ends(bed):
    cluster = "hammer"
    job = bed.workload["running"][cluster]
    assert bed.run("poll", cluster).returncode == 0
    bed.assert_matches_sacct(cluster)              # the dump (ended jobs only) has no running job either
    jobs_before = sum(u["jobs"] for m in bed.monthly(cluster).values() for u in m.values())
    bed.tb.scancel(job, cluster)
    bed.accounted([job], cluster)
    for _ in range(2):
        assert bed.run("poll", cluster).returncode == 0
    assert sum(u["jobs"] for m in bed.monthly(cluster).values() for u in m.values()) == jobs_before + 1
    bed.assert_matches_sacct(cluster)


def test_the_ansi_board_shows_cross_cluster_ranks_matching_sacct(bed):
    merged = {}
    for cluster in CLUSTERS:
        # a job of an earlier test may end at any time: compare with what the collector has read, i.e. the
        # jobs that ended before its watermark, not with whatever has ended by the time of the dump
        assert bed.run("poll", cluster).returncode == 0
        with open(os.path.join(bed.root, "clusters", cluster, "state", "poll_cursor.json")) as handle:
            read_up_to = json.load(handle)["watermark"] - 1
        end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(read_up_to))
        for user, metrics in oracle.alltime_totals(bed.dump(cluster, end)).items():
            total = merged.setdefault(user, dict.fromkeys(metrics, 0))
            for key, value in metrics.items():
                total[key] += value
    for metric in ("clock_hours", "jobs", "sum_max_mem_mb"):
        want = oracle.ranks(merged, metric, min_jobs=3)         # the collectors' default min_jobs
        base = ["/usr/bin/python3", bed.pyz, "tui", "--root", bed.root, "--cluster", "ALL", "--sort", metric]
        shown = bed.tb.as_user(COLLECTOR, base + ["--json"], "hammer")
        assert shown.returncode == 0, shown.stderr
        rows = json.loads(shown.stdout)["rows"]
        assert [(r["rank"], r["user"]) for r in rows] == [(n, u) for n, u, _ in want], metric
        assert [r[metric] for r in rows] == pytest.approx([v for _, _, v in want]), metric
        shown = bed.tb.as_user(COLLECTOR, base + ["--backend", "ansi", "--limit", "1000"], "hammer")
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert "ALL (hammer+negishi)" in lines[1]
        table = [l.strip("\u2503|").replace("\u265b", " ").replace("*", " ").split()[:2] for l in lines[5:-1]]
        assert [(int(n), u) for n, u in table] == [(n, u) for n, u, _ in want], metric


def test_slurmdbd_down_commits_nothing_and_the_next_poll_catches_up(bed):
    cluster = "negishi"
    before = bed.agg_bytes(cluster)
    bed.tb.stop_slurmdbd()
    try:
        done = bed.run("poll", cluster)
        lines = [l for l in done.stderr.splitlines() if l.strip()]
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert "Connection refused" in lines[0] and "nothing was committed" in lines[0]
        assert bed.agg_bytes(cluster) == before
        doctor = bed.run("doctor", cluster)
        assert doctor.returncode == 1 and "FAIL  accounting" in doctor.stdout
    finally:
        bed.tb.start_slurmdbd()
    job = bed.tb.sbatch("sberin", cluster, ["-n", "1", "-t", "1"], "#!/bin/sh\nsleep 1\n")
    bed.accounted([job], cluster)
    assert bed.run("poll", cluster).returncode == 0
    bed.assert_matches_sacct(cluster)


def test_private_data_is_noticed_by_doctor_and_by_poll(bed):
    cluster = "hammer"
    visibility = os.path.join(bed.root, "clusters", cluster, "state", "visibility.json")
    if os.path.exists(visibility):
        os.unlink(visibility)                      # the daily verdict would otherwise stand until tomorrow
    before = bed.agg_bytes(cluster)
    bed.tb.set_private_data(True)
    try:
        job = bed.tb.sbatch("sbfrank", cluster, ["-n", "1", "-t", "1"], "#!/bin/sh\nsleep 1\n")
        bed.accounted([job], cluster)
        doctor = bed.run("doctor", cluster)
        assert doctor.returncode == 1 and "FAIL  visibility" in doctor.stdout and "PrivateData=jobs" in doctor.stdout
        done = bed.run("poll", cluster)
        assert done.returncode == 1 and "PrivateData=jobs" in done.stderr and "doctor" in done.stderr
        assert bed.agg_bytes(cluster) == before    # no one-user board was published
    finally:
        bed.tb.set_private_data(False)
    os.unlink(visibility)
    assert bed.run("poll", cluster).returncode == 0
    bed.assert_matches_sacct(cluster)


def test_doctor_names_a_missing_sacct_and_a_root_it_cannot_write(bed):
    missing = bed.tb.as_user(COLLECTOR, ["/usr/bin/python3", bed.pyz, "doctor", "--root", bed.root,
                                         "--cluster", "hammer"], "hammer", extra_env={"PATH": "/usr/sbin"})  # runuser, no sacct
    assert missing.returncode == 1 and "FAIL  sacct" in missing.stdout and "PATH" in missing.stdout
    foreign = os.path.join(bed.tb.base, "root-owned")
    os.makedirs(foreign, exist_ok=True)
    os.chmod(foreign, 0o755)
    done = bed.tb.as_user(COLLECTOR, ["/usr/bin/python3", bed.pyz, "doctor", "--root", foreign,
                                      "--cluster", "hammer"], "hammer")
    assert done.returncode == 1 and "FAIL  root" in done.stdout and "cannot write" in done.stdout
    healthy = bed.run("doctor", "hammer")
    assert healthy.returncode == 0 and "OK    visibility" in healthy.stdout, healthy.stdout


def test_a_user_hidden_from_earlier_polls_is_discovered_and_backfilled(bed):
    cluster = "negishi"
    jobs = [bed.tb.sbatch("sbgina", cluster, ["-n", "2", "-t", "1"], "#!/bin/sh\nsrun sleep 1\n") for _ in range(2)]
    bed.accounted(jobs, cluster)
    optout = os.path.join(bed.root, "config", "optout.txt")
    os.makedirs(os.path.dirname(optout), exist_ok=True)
    with open(optout, "w") as handle:
        handle.write("sbgina\n")
    os.chmod(optout, 0o644)
    assert bed.run("poll", cluster).returncode == 0
    assert all("sbgina" not in users for users in bed.monthly(cluster).values())
    os.unlink(optout)
    found = bed.run("discover", cluster, "-o", "discover_days=2")
    assert found.returncode == 0, found.stderr
    queued = json.load(open(os.path.join(bed.root, "clusters", cluster, "state", "poll_cursor.json")))["backfill_queue"]
    assert "sbgina" in [entry["user"] for entry in queued]          # so is anyone else with no data here
    for _ in range(3):
        assert bed.run("poll", cluster).returncode == 0
    cursor = json.load(open(os.path.join(bed.root, "clusters", cluster, "state", "poll_cursor.json")))
    assert not cursor.get("backfill_queue")
    gina = sum(users["sbgina"]["jobs"] for users in bed.monthly(cluster).values() if "sbgina" in users)
    assert gina >= 2                               # (a reused testbed keeps earlier runs' jobs too)
    bed.assert_matches_sacct(cluster)              # …and exactly what sacct says, once each


def test_poll_writes_live_activity(bed):
    cluster = "hammer"
    job = bed.tb.sbatch("sbcarol", cluster, ["-n", "2", "-t", "2"], "#!/bin/sh\nsleep 60\n")
    held = bed.tb.sbatch("sbdave", cluster, ["-H", "--array=1-5%1", "-t", "2"], "#!/bin/sh\nsleep 1\n")
    bed.tb.wait_state(job, cluster)
    done = bed.run("poll", cluster)
    assert done.returncode == 0 and "live activity" not in done.stderr     # squeue -M answered for hammer
    live = json.load(open(os.path.join(bed.root, "clusters", cluster, "live.json")))
    assert live["users"]["sbcarol"]["running"] >= 1 and live["users"]["sbcarol"]["cpus"] >= 2
    assert live["users"]["sbdave"]["pending"] == 5                        # one squeue line: 5 tasks
    bed.tb.scancel(job, cluster)
    bed.tb.scancel(held, cluster)

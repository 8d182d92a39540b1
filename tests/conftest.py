"""Shared fixtures: a sandbox with the fake sacct, a scratch root, and helpers to run the CLI and read results."""
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import fake_sacct  # noqa: E402
import oracle  # noqa: E402
from sb import cli  # noqa: E402
from sb.store import counters  # noqa: E402

GOLDEN = os.path.join(REPO, "fixtures", "golden")
ASOF = re.compile(rb'"asof": ?"[^"]*"')
CRC = re.compile(rb'"crc32":"[0-9a-f]{8}"')   # a file's checksum covers its asof, so it is masked with it


class Sandbox:
    """A scratch shared root plus a fake sacct serving .db files, driven through the real CLI."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.root = str(tmp_path / "root")
        self.db_dir = str(tmp_path / "db")
        self.log = str(tmp_path / "sacct.log")
        os.makedirs(self.db_dir)
        self.sacct = fake_sacct.install_fake_sacct(str(tmp_path / "bin"), self.db_dir)
        self.squeue_out = str(tmp_path / "squeue.txt")  # what the fake squeue prints; absent: nothing
        self.squeue = str(tmp_path / "bin" / "squeue")
        with open(self.squeue, "w") as handle:
            # like squeue -M NAME: "CLUSTER: NAME", the column header, then the jobs (FAKE_SQUEUE_CLUSTER: answer
            # as another cluster)
            handle.write('#!/bin/sh\nif [ -n "$FAKE_SQUEUE_FAIL" ]; then echo "squeue: error: Unable to contact '
                         'slurm controller" >&2; exit 1; fi\nwhile [ $# -gt 0 ]; do [ "$1" = -M ] && name="$2"; '
                         'shift; done\n[ -z "$name" ] || printf "CLUSTER: %s\\nUSER|ST|CPUS|TRES_ALLOC|JOBID|\\n" '
                         '"${{FAKE_SQUEUE_CLUSTER:-$name}}"\ncat "{}" 2>/dev/null\nexit 0\n'.format(self.squeue_out))
        os.chmod(self.squeue, 0o755)
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("FAKE_SACCT_DB_DIR", self.db_dir)
        monkeypatch.setenv("FAKE_SACCT_LOG", self.log)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no stray ~/.slurm_scoreboard config
        for name in [k for k in os.environ if k.startswith("SLURM_SB_")]:
            monkeypatch.delenv(name)

    def use_db(self, source, cluster="hammer"):
        shutil.copy(source, os.path.join(self.db_dir, cluster + ".db"))

    def write_db(self, text, cluster="hammer"):
        with open(os.path.join(self.db_dir, cluster + ".db"), "w") as handle:
            handle.write(text)

    def run(self, *args, cluster="hammer", now=None, options=("rate_limit_per_min=0",)):
        command, rest = args[0], list(args[1:])
        argv = [command, "--root", self.root, "--cluster", cluster, "-o", "sacct=" + self.sacct,
                "-o", "squeue=" + self.squeue]
        for option in options:
            argv += ["-o", option]
        if now:
            argv += ["--now", now]
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(argv + rest, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def sacct_dump(self, start, end, cluster="hammer", fields=None):
        """A plain `sacct -P` dump (header, '|') of the jobs that ended in [start, end], for the oracle
        (`fields`: another -o list, e.g. V2_DUMP_FIELDS)."""
        fields = fields or "JobID,JobIDRaw,User,State,ElapsedRaw,AllocCPUS,NNodes,ReqMem,ReqTRES,AllocTRES," \
                           "MaxRSS,AveRSS,Submit,Start,End,TRESUsageInMax,TRESUsageInAve"
        env = dict(os.environ, TZ="UTC", SLURM_TIME_FORMAT="%s", FAKE_SACCT_LOG=os.devnull)
        text = subprocess.run([self.sacct, "-a", "-D", "-P", "--noconvert", "-M", cluster, "-S", start, "-E", end,
                               "-s", "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ", "-o", fields], env=env, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout
        path = os.path.join(str(self.tmp), "dump-{}.txt".format(cluster))
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def sacct_calls(self, queries_only=True):
        if not os.path.exists(self.log):
            return []
        calls = [json.loads(line) for line in open(self.log)]
        return [c for c in calls if not queries_only or "--helpformat" not in c["argv"]]

    def cluster_dir(self, cluster="hammer"):
        return os.path.join(self.root, "clusters", cluster)

    def files(self, sub="agg", cluster="hammer", mask_asof=True):
        """{relative path: bytes} of every file under clusters/<c>/<sub>."""
        base = os.path.join(self.cluster_dir(cluster), sub)
        found = {}
        for folder, _, names in os.walk(base):
            for name in names:
                path = os.path.join(folder, name)
                data = open(path, "rb").read()
                if data[:2] == b"\x1f\x8b" and mask_asof:     # a rollup: its JSON, so asof can be masked
                    import gzip
                    data = gzip.decompress(data)
                found[os.path.relpath(path, base)] = CRC.sub(b'"crc32":"*"', ASOF.sub(b'"asof":"*"', data)) if mask_asof else data
        return found

    def monthly(self, cluster="hammer", metrics=counters.V1_METRICS, by="username"):
        """{month: {user: metrics}} from the rollup files: each row's exact counters summed per user (or per
        account or partition: `by`), as the named metrics."""
        folder = os.path.join(self.cluster_dir(cluster), "agg", "rollups", "monthly")
        result = {}
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".json") and not name.startswith("."):
                doc = load_json(os.path.join(folder, name))
                if doc.get("format") is None:     # the first release's: one row of metrics per user
                    result[doc["month"]] = {row["username"]: {k: row[k] for k in metrics} for row in doc["users"]}
                    continue
                sums = {}
                for row in doc["users"]:
                    counters.add_into(sums.setdefault(row[by], counters.zero()), row["counters"])
                result[doc["month"]] = {key: _named(total, metrics) for key, total in sums.items()}
        return {m: u for m, u in result.items() if u}

    def alltime(self, cluster="hammer", metrics=counters.V1_METRICS):
        folder = os.path.join(self.cluster_dir(cluster), "agg", "users")
        result = {}
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if not name.endswith(".json"):   # alice.json.bad: a quarantined file is kept, not counted
                continue
            doc = load_json(os.path.join(folder, name))
            entry = doc["clusters"][cluster]
            merged = dict(entry["counts"], **entry["totals"])
            merged.update(entry["efficiency"])
            result[doc["username"]] = {k: merged[k] for k in metrics}
        return result

    def board(self, window="alltime", cluster="hammer"):
        name = {"alltime": "alltime", "30d": "rolling-30d", "365d": "rolling-365d"}[window]
        return json.load(open(os.path.join(self.cluster_dir(cluster), "agg", "leaderboards", name + ".json")))

    def cursor(self, cluster="hammer"):
        return json.load(open(os.path.join(self.cluster_dir(cluster), "state", "poll_cursor.json")))


def load_json(path):
    """A stored JSON file, gzip'd (the rollups) or plain (the first release's, and every other file)."""
    import gzip
    with open(path, "rb") as handle:
        data = handle.read()
    return json.loads((gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode())


# the dump the oracle needs for collector v2's figures (issue 11)
V2_DUMP_FIELDS = "JobID,JobIDRaw,User,Account,Partition,State,ElapsedRaw,AllocCPUS,NNodes,ReqMem,ReqTRES," \
                 "AllocTRES,MaxRSS,AveRSS,TotalCPU,Submit,Start,End,TRESUsageInMax,TRESUsageInAve,TimelimitRaw," \
                 "Eligible,TRESUsageInTot"


def _named(total, metrics):
    values = counters.all_metrics(total)
    return {name: values[name] for name in metrics}


def in_ci(env=None):
    """CI=true (what GitHub Actions, GitLab CI and .ci/run's callers set): every real part must be tested."""
    return (os.environ if env is None else env).get("CI", "").strip().lower() in ("true", "1", "yes")


def require_or_skip(reason):
    """Skip a test whose real dependency (the SLURM testbed, a browser) is missing - but under CI=true,
    fail it: CI must not pass without the real-SLURM or browser coverage."""
    if in_ci():
        pytest.fail("{} (CI=true: this test must run here, not skip)".format(reason), pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    return Sandbox(tmp_path, monkeypatch)


def assert_same_totals(got, expected):
    """Nested {key: {metric: number}} equality, floats to 1e-9 relative."""
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert sorted(got[key]) == sorted(expected[key]), key
        for metric, value in expected[key].items():
            assert got[key][metric] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, metric)


def oracle_monthly(db_path, **kwargs):
    return oracle.nest_monthly(oracle.monthly_totals(oracle.load_rows(db_path), **kwargs))


@pytest.fixture(scope="session")
def pyz(tmp_path_factory):
    """dist/slurm-sb.pyz built once per test session, in a scratch directory."""
    out = str(tmp_path_factory.mktemp("dist") / "slurm-sb.pyz")
    subprocess.run([sys.executable, os.path.join(REPO, "build.py"), "--output", out], check=True,
                   stdout=subprocess.PIPE)
    return out


DEMO = os.path.join(REPO, "fixtures", "demo")
DEMO_NOW = "2026-11-01T00:00:00"      # the demo data ends just before this


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """A shared root holding the two bundled example clusters, replayed as of DEMO_NOW (read-only in tests)."""
    path = str(tmp_path_factory.mktemp("demo") / "root")
    for cluster in ("hammer", "negishi"):
        assert cli.main(["replay", "--root", path, "--cluster", cluster, "--now", DEMO_NOW, "-o", "squeue=true",
                         os.path.join(DEMO, cluster + ".db")], out=io.StringIO(), err=io.StringIO()) == 0
    return path


def demo_ranking(clusters, window, metric, min_jobs=3, now=DEMO_NOW):
    """[(user, value)] best first, computed by the oracle from the demo's sacct dumps (not from our files)."""
    import calendar
    import time
    merged = {}
    epoch = calendar.timegm(time.strptime(now, "%Y-%m-%dT%H:%M:%S"))
    last = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    for cluster in clusters:
        rows = oracle.load_rows(os.path.join(DEMO, cluster + ".db"))
        if window == "alltime":
            totals = oracle.alltime_totals(rows)
        else:
            first = time.strftime("%Y-%m-%d", time.gmtime(epoch - (int(window[:-1]) - 1) * 86400))
            totals = oracle.window_totals(rows, first, last)
        for user, metrics in totals.items():
            total = merged.setdefault(user, dict.fromkeys(metrics, 0))
            for key, value in metrics.items():
                total[key] += value
    return [(u, v) for _, u, v in oracle.ranks(merged, metric, min_jobs=min_jobs)]

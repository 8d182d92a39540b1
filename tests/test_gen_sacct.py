"""Tests for bench/gen_sacct.py (synthetic sacct .db generator) and the demo fixtures."""
import io
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
SCRIPT = os.path.join(BENCH, "gen_sacct.py")
sys.path.insert(0, BENCH)

import gen_sacct  # noqa: E402

NF = len(gen_sacct.FIELDS)
(JOBID, RAW, USER, ACCT, PART, STATE, ELAPSED, CPUS, NNODES, REQMEM, REQTRES, ALLOCTRES,
 MAXRSS, AVERSS, TOTALCPU, SUBMIT, START, END, TMAX, TAVE, LIMIT, ELIGIBLE, TTOT, NAME) = range(NF)

TRES_RE = re.compile(r"^[a-z]+(/[a-z]+(:[a-z0-9]+)?)?=\d+[MG]?(,[a-z]+(/[a-z]+(:[a-z0-9]+)?)?=\d+[MG]?)*$")
USER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*(@[A-Z.]+)?)?$")
TIME_RE = re.compile(r"^(\d+-\d\d:\d\d:\d\d|\d\d:\d\d:\d\d|\d\d:\d\d\.\d\d\d)$")
REQMEM_RE = re.compile(r"^\d+[MG][cn]?$")
USAGE_RE = re.compile(r"^cpu=(\d+-)?\d\d:\d\d:\d\d,energy=0,fs/disk=\d+,mem=\d+,pages=\d+,vmem=\d+$")


def gen(jobs=3000, seed=7, **kw):
    buf = io.StringIO()
    counts = gen_sacct.generate(buf, jobs, seed, **kw)
    return buf.getvalue(), counts


def valid(f):
    """Strict well-formedness check of one split data line."""
    if len(f) != NF:
        return False
    if not f[ELAPSED].isdigit() or not USER_RE.match(f[USER]):
        return False
    if f[ALLOCTRES] and not TRES_RE.match(f[ALLOCTRES]):
        return False
    if not (f[SUBMIT].isdigit() and f[END].isdigit()
            and (f[START].isdigit() or f[START] == "Unknown")):
        return False
    return bool(TIME_RE.match(f[TOTALCPU]) and REQMEM_RE.match(f[REQMEM]))


def rows(text):
    lines = text.split("\n")
    assert lines[0] == gen_sacct.HEADER
    assert lines[-1] == ""          # file ends with a newline
    return [ln.split("|") for ln in lines[1:-1]]


@pytest.fixture(scope="module")
def clean():
    text, counts = gen(6000, seed=11, malformed_rate=0.0)
    return rows(text), counts


def test_determinism():
    a, _ = gen(2000, seed=5)
    b, _ = gen(2000, seed=5)
    c, _ = gen(2000, seed=6)
    assert a == b
    assert a != c


def test_columns_and_formats(clean):
    data, counts = clean
    assert counts["malformed"] == 0
    assert len(data) == counts["lines"]
    for f in data:
        assert valid(f), f
        is_step = "." in f[RAW]
        if is_step:
            assert f[USER] == "" and f[PART] == "" and f[MAXRSS].isdigit()
            assert int(f[AVERSS]) <= int(f[MAXRSS])
            assert USAGE_RE.match(f[TMAX]) and USAGE_RE.match(f[TAVE]), f
        else:
            assert f[USER] and f[MAXRSS] == "" and f[TMAX] == "" and f[TAVE] == ""
            assert TRES_RE.match(f[REQTRES]), f


def test_jobs_and_steps_consistent(clean):
    data, counts = clean
    t0 = gen_sacct.parse_day("2025-01-01")
    t1 = t0 + 90 * 86400
    job = None
    last_raw = 0
    njobs = nsteps = 0
    for f in data:
        if "." not in f[RAW]:
            job = f
            nsteps_this = 0
            raw = int(f[RAW])
            assert raw >= last_raw           # emitted in increasing JobIDRaw
            last_raw = raw
            assert t0 <= int(f[END]) < t1
            if f[START] != "Unknown":
                assert int(f[SUBMIT]) <= int(f[START]) <= int(f[END])
                assert int(f[END]) - int(f[START]) == int(f[ELAPSED])
            else:
                assert f[ELAPSED] == "0" and f[STATE].startswith("CANCELLED")
            njobs += 1
            continue
        nsteps += 1
        nsteps_this += 1
        assert job is not None and job[START] != "Unknown"
        jid, sid = f[JOBID].split(".")
        assert jid == job[JOBID] and f[RAW] == job[RAW] + "." + sid
        assert int(f[ELAPSED]) <= int(job[ELAPSED])
        assert int(job[START]) <= int(f[START]) <= int(f[END]) <= int(job[END])
        assert int(f[END]) - int(f[START]) == int(f[ELAPSED])
        assert sid in ("batch", "extern") or sid.isdigit()
    assert njobs == counts["job_lines"] and nsteps == counts["steps"]
    assert 3.0 <= nsteps / float(njobs) <= 5.0
    assert 4.0 <= len(data) / float(counts["jobs"]) <= 6.0


def test_features_present(clean):
    data, counts = clean
    jobs = [f for f in data if "." not in f[RAW]]
    states = set(f[STATE].split(" ")[0] for f in jobs)
    assert {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
            "NODE_FAIL", "PREEMPTED"} <= states
    assert any(re.match(r"^CANCELLED by \d+$", f[STATE]) for f in jobs)
    arrays = [f for f in jobs if "_" in f[JOBID]]
    assert arrays and len(set(f[RAW] for f in arrays)) == len(arrays)
    het = [f for f in jobs if "+" in f[JOBID]]
    assert any(f[JOBID].endswith("+1") for f in het)
    assert len(set(f[RAW] for f in het)) == len(het)
    # requeue: same JobIDRaw twice, different Submit, earlier run requeued/preempted/node_fail
    seen = {}
    requeued = 0
    for f in jobs:
        if f[RAW] in seen:
            first = seen[f[RAW]]
            assert first[SUBMIT] != f[SUBMIT]
            assert first[STATE] in ("REQUEUED", "PREEMPTED", "NODE_FAIL")
            assert int(first[END]) <= int(f[SUBMIT])
            requeued += 1
        seen[f[RAW]] = f
    assert requeued == counts["requeued_runs"] > 0
    never = [f for f in jobs if f[START] == "Unknown"]
    assert len(never) == counts["never_started"] > 0
    assert all(f[ALLOCTRES] == "" and f[CPUS] == "0" for f in never)
    alloc = [f[ALLOCTRES] for f in jobs]
    assert any(re.search(r"gres/gpu=(\d+),gres/gpu:\w+=\1", t) for t in alloc)  # typed+untyped
    assert any("gres/gpu:" in t and "gres/gpu=" not in t for t in alloc)        # typed only
    assert any("gres/gpu=" in t and "gres/gpu:" not in t for t in alloc)        # untyped only
    assert any("gres/gpumem=" in t for t in alloc)
    assert any(f[REQMEM].endswith("Mc") for f in jobs)
    assert any(f[REQMEM].endswith("n") for f in jobs)
    assert any(int(f[NNODES]) > 1 for f in jobs if f[START] != "Unknown")
    users = set(f[USER] for f in jobs)
    assert any("@" in u for u in users) and any(u.isupper() for u in users)
    assert len(users) > 50
    tc = [f[TOTALCPU] for f in data]
    assert any("-" in t for t in tc) and any("." in t for t in tc)
    assert any(t.count(":") == 2 and "-" not in t for t in tc)


def test_no_steps_share(clean):
    data, _ = clean
    idx = [i for i, f in enumerate(data) if "." not in f[RAW] and f[START] != "Unknown"]
    bare = sum(1 for i in idx if i + 1 >= len(data) or "." not in data[i + 1][RAW])
    assert 0.01 < bare / float(len(idx)) < 0.15


def test_legacy_rate_zero_and_cluster_profiles():
    text, _ = gen(3000, seed=3, cluster="hammer", legacy_reqmem_rate=0.0, malformed_rate=0.0)
    data = rows(text)
    assert not any(f[REQMEM][-1] in "cn" for f in data)
    gpu = [f[ALLOCTRES] for f in data if "gres/" in f[ALLOCTRES]]
    assert gpu and all(re.search(r"gres/gpu=(\d+),gres/gpu:a100=\1", t) for t in gpu)
    assert not any("gpumem" in t for t in gpu)
    text, _ = gen(3000, seed=3, cluster="negishi", malformed_rate=0.0)
    gpu = [f[ALLOCTRES] for f in rows(text) if "gres/" in f[ALLOCTRES]]
    assert gpu and not any("gres/gpu:" in t or "gpumem" in t for t in gpu)


@pytest.mark.parametrize("rate", [0.01, 0.0005])
def test_malformed_rate(rate):
    text, counts = gen(20000, seed=9, malformed_rate=rate)
    data = rows(text)
    bad = [f for f in data if not valid(f) or (f[USER] == "" and "." not in f[RAW])]
    assert len(bad) == counts["malformed"]
    expected = rate * len(data)
    assert abs(len(bad) - expected) <= 4 * expected ** 0.5 + 3
    if rate >= 0.01:   # every corruption kind shows up
        assert any(len(f) < NF for f in bad) and any(len(f) > NF for f in bad)
        assert any(f[USER] == "x/y" for f in bad if len(f) == NF)
        assert any(len(f) == NF and not f[ELAPSED].isdigit() for f in bad)
        assert any(len(f) == NF and f[ALLOCTRES] and not TRES_RE.match(f[ALLOCTRES])
                   for f in bad)


class _Sink(object):
    def __init__(self):
        self.n = 0
        self.writes = 0
        self.biggest = 0

    def write(self, s):
        self.n += len(s)
        self.writes += 1
        self.biggest = max(self.biggest, len(s))


def test_speed_and_streaming():
    sink = _Sink()
    t = time.time()
    counts = gen_sacct.generate(sink, 20000, 1)
    dt = time.time() - t
    assert counts["jobs"] == 20000
    assert dt < 5.0, "20k jobs took %.2fs" % dt
    # streamed in bounded chunks rather than built up and written at the end
    assert sink.writes > 20 and sink.biggest < 1024 * 1024
    assert sink.n > 20000 * 800


def test_cli_summary(tmp_path):
    out = tmp_path / "x.db"
    p = subprocess.run([sys.executable, SCRIPT, "--jobs", "500", "--seed", "4", "--summary",
                        "--start", "2024-02-01", "--days", "3", "--users", "10",
                        "--cluster", "negishi", "--legacy-reqmem-rate", "0.2",
                        "--malformed-rate", "0", "-o", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 0, p.stderr
    for key in ("jobs=500", "steps=", "malformed=0", "never_started="):
        assert key in p.stderr
    text = out.read_text()
    assert text == gen(500, 4, start="2024-02-01", days=3, users=10, cluster="negishi",
                       legacy_reqmem_rate=0.2, malformed_rate=0)[0]
    p = subprocess.run([sys.executable, SCRIPT, "--jobs", "50", "--seed", "4"],
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 0 and p.stdout == gen(50, 4)[0]


def _demo_commands():
    doc = gen_sacct.__doc__
    cmds = [ln.strip() for ln in doc.splitlines() if "fixtures/demo/" in ln and "-o " in ln]
    assert len(cmds) == 2
    return cmds


@pytest.mark.parametrize("name", ["hammer", "negishi"])
def test_demo_fixture_matches_documented_command(name, tmp_path):
    cmd = [c for c in _demo_commands() if c.endswith("fixtures/demo/%s.db" % name)][0]
    argv = shlex.split(cmd)
    assert argv[:2] == ["python3", "bench/gen_sacct.py"]
    argv = argv[2:]
    argv[argv.index("-o") + 1] = str(tmp_path / "out.db")
    assert gen_sacct.main(argv) == 0
    path = os.path.join(ROOT, "fixtures", "demo", name + ".db")
    with open(path, "rb") as fh:
        want = fh.read()
    assert (tmp_path / "out.db").read_bytes() == want
    assert len(want) < 2 * 1000 * 1000
    data = rows(want.decode("ascii"))
    assert all(valid(f) for f in data)
    ends = [int(f[END]) for f in data if "." not in f[RAW]]
    t1 = gen_sacct.parse_day("2026-11-01")
    assert t1 - 400 * 86400 <= min(ends) and max(ends) < t1
    jobs = [f for f in data if "." not in f[RAW]]
    assert 1400 <= len(jobs) <= 1700
    alloc = [f[ALLOCTRES] for f in jobs if "gres/" in f[ALLOCTRES]]
    if name == "hammer":
        assert alloc and all(re.search(r"gres/gpu=(\d+),gres/gpu:a100=\1", t) for t in alloc)
    else:
        assert alloc and not any("gres/gpu:" in t for t in alloc)


def test_demo_users_overlap():
    users = {}
    for name in ("hammer", "negishi"):
        with open(os.path.join(ROOT, "fixtures", "demo", name + ".db")) as fh:
            next(fh)
            users[name] = set(ln.split("|")[USER].lower().split("@")[0]
                              for ln in fh if ln.split("|")[USER])
    assert 30 <= len(users["hammer"]) <= 45 and 30 <= len(users["negishi"]) <= 45
    assert len(users["hammer"] & users["negishi"]) >= 20


# ---- the v2 fields (TimelimitRaw, Eligible, TRESUsageInTot) ------------------------------------------

# sha256 of the generator's output before the v2 fields existed (commit 590cf31), for these arguments
V1_DIGESTS = [
    ((2000, 5), {}, "0b3b2dee841d9a090c3a72bc74c6323935cb78edfb5d6acd4c3ca7502bf4b437"),
    ((2000, 9), {"cluster": "hammer", "malformed_rate": 0.01},
     "c9484e3e48b6c411636d084ba098dfa7312d3efa95105b8aa4ec6fc6a637fd95"),
]


@pytest.mark.parametrize("args,kw,digest", V1_DIGESTS)
def test_older_columns_keep_their_bytes(args, kw, digest):
    """The new fields draw from their own random stream: dropping them gives the old output exactly,
    malformed lines included."""
    import hashlib
    text, _ = gen(*args, **kw)
    old = []
    for line in text.split("\n"):
        f = line.split("|")
        old.append("|".join(f[:LIMIT] + f[NAME:]) if len(f) > NAME else line)
    assert hashlib.sha256("\n".join(old).encode()).hexdigest() == digest


TOT_RE = re.compile(r"^cpu=(\d+-)?\d\d:\d\d:\d\d,energy=0,fs/disk=\d+,(gres/gpuutil=\d+,)?mem=\d+,pages=\d+,"
                    r"vmem=\d+$")


def test_v2_fields_formats(clean):
    data, _ = clean
    for f in data:
        if "." in f[RAW]:
            assert f[LIMIT] == "" and f[ELIGIBLE] == "" and TOT_RE.match(f[TTOT]), f
            assert int(f[TTOT].split(",mem=")[1].split(",")[0]) >= int(f[MAXRSS])   # a sum over tasks
        else:
            assert f[TTOT] == ""
            assert f[LIMIT] in ("UNLIMITED", "Partition_Limit") or f[LIMIT].isdigit(), f
            assert f[ELIGIBLE] == "Unknown" or f[ELIGIBLE].isdigit(), f
            if f[START] == "Unknown":
                assert f[ELIGIBLE] == "Unknown"


def test_v2_fields_cover_the_odd_cases(clean):
    data, _ = clean
    jobs = [f for f in data if "." not in f[RAW] and f[START] != "Unknown"]
    limits = [f[LIMIT] for f in jobs]
    assert "UNLIMITED" in limits and "Partition_Limit" in limits
    assert sum(x.isdigit() for x in limits) > 0.9 * len(limits)
    assert all(int(f[LIMIT]) * 60 + 120 >= int(f[ELAPSED]) for f in jobs if f[LIMIT].isdigit())
    elig = [(f[ELIGIBLE], int(f[SUBMIT]), int(f[START])) for f in jobs]
    assert any(e == "Unknown" for e, _, _ in elig)
    after = [e for e, _, s in elig if e.isdigit() and int(e) > s]
    between = [e for e, b, s in elig if e.isdigit() and b < int(e) <= s]
    assert after and between
    assert all(int(e) >= b for e, b, _ in elig if e.isdigit())


def test_gpu_utilisation_on_gpu_jobs_only(clean):
    data, _ = clean
    gpus, sampled, unsampled = 0, 0, 0
    job_has = False
    for f in data:
        if "." not in f[RAW]:
            if gpus and job_seen_steps:
                sampled += job_has
                unsampled += not job_has
            m = re.search(r"gres/gpu=(\d+)", f[ALLOCTRES]) or re.search(r"gres/gpu:\w+=(\d+)", f[ALLOCTRES])
            gpus, job_has, job_seen_steps = int(m.group(1)) if m else 0, False, False
            continue
        job_seen_steps = True
        m = re.search(r"gres/gpuutil=(\d+)", f[TTOT])
        if m:
            assert gpus, f                                   # never on a CPU job
            step = re.search(r"gres/gpu=(\d+)", f[ALLOCTRES]) or re.search(r"gres/gpu:\w+=(\d+)", f[ALLOCTRES])
            assert 0 <= int(m.group(1)) <= 100 * int(step.group(1)), f
            assert not f[RAW].endswith(".extern")
            job_has = True
    assert sampled > 0 and unsampled > 0                     # some GPU jobs have no sample: unknown

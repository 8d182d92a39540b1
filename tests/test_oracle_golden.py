"""Golden case: fixtures/golden/hammer.db with totals worked out BY HAND.

Nothing below is computed by code: every number comes from the per-job
arithmetic in the comments.  The same numbers live in
fixtures/golden/hammer.expected.json for the product's own tests.

Units: hours = ElapsedRaw / 3600; memory in MB (MiB).  RSS values in the DB
are bytes unless suffixed (2048K = 2 MB).  Dates are UTC.

Per job (JobIDRaw, user after normalisation):

January 2024
  101 alice  COMPLETED  4 cpus x 7200 s = 2 h -> 8 cpu-h; no GPU;
             ReqTRES has no mem -> ReqMem 4000Mc x 4 cpus = 16000 MB;
             steps batch/extern/0 MaxRSS 512/0/1024 -> max 1024,
             AveRSS 256/0/512 -> avg 512
  102 alice  (User Alice@EXAMPLE.ORG) 8 cpus x 1 h = 8 cpu-h;
             AllocTRES gres/gpu=2,gres/gpu:a100=2 -> 2 GPUs (untyped wins):
             gpu_elapsed 1 h, gpu_clock 2 x 1 = 2 h; ReqTRES mem=64G = 65536;
             max 2048, avg 1024
  103 bob    FAILED 2 cpus x 1800 s = 0.5 h -> 1 cpu-h; ReqTRES mem=500M = 500;
             no steps -> max 0, avg 0 (job line's own MaxRSS 999999999 ignored)
  104 carol  TIMEOUT 16 cpus x 1 h = 16 cpu-h; no ReqTRES mem ->
             ReqMem 64Gn x 2 nodes = 65536 x 2 = 131072;
             steps MaxRSS 2048K (= 2 MB) / 4096 MB -> max 4096,
             AveRSS 1024K (= 1 MB) / 2048 MB -> avg 2048
  105 dave   array task 105_0: 1 cpu x 1 h = 1 cpu-h; mem=1G = 1024;
             max 100, avg 100
  106 dave   array task 105_1: 1 cpu x 1 h = 1 cpu-h; mem=1G = 1024;
             MaxRSS/AveRSS empty -> TRESUsageInMax mem=209715200 = 200 MB,
             TRESUsageInAve mem=104857600 = 100 MB
  110 bob    ends 2024-01-31T23:59:59 (last second of Jan) -> January;
             1 cpu x 1 h = 1 cpu-h; 1024 MB; max 256, avg 128

February 2024
  111 bob    ends 2024-02-01T00:00:00 (first second of Feb) -> February;
             1 cpu x 1 h = 1 cpu-h; 1024 MB; max 256, avg 128
  120 carol  OUT_OF_MEMORY 8 cpus x 7200 s = 2 h -> 16 cpu-h;
             typed only gres/gpu:a100=1 + gres/gpu:v100=2 = 3 GPUs
             (gres/gpumem=80G ignored): gpu_elapsed 2 h, gpu_clock 3 x 2 = 6 h;
             mem=32G = 32768; max 32768, avg 16384
  121 dave   NODE_FAIL 4 cpus x 1 h = 4 cpu-h; mem=8G = 8192;
             MaxRSS 2048K = 2 MB, AveRSS 1024K = 1 MB
  130 alice  het component 130+0: 2 cpus x 1 h = 2 cpu-h; mem=2G = 2048;
             steps MaxRSS 64/512 -> max 512, AveRSS 32/256 -> avg 256
  131 alice  het component 130+1: 4 cpus x 1 h = 4 cpu-h; gres/gpu=1:
             gpu_elapsed 1 h, gpu_clock 1 h; mem=4G = 4096; max 1024, avg 1024
  140 bob    run 1 (Submit 2024-02-12T00:00) PREEMPTED 2 cpus x 1800 s = 0.5 h
             -> 1 cpu-h; 1024 MB; max 256, avg 128
  140 bob    run 2 (Submit 2024-02-12T00:35) COMPLETED 2 cpus x 1 h = 2 cpu-h;
             1024 MB; max 512, avg 256
  150 carol  CANCELLED by 1001, Start Unknown -> counts nowhere
  151 dave   CANCELLED by 1002 4 cpus x 1 h = 4 cpu-h; mem=4G = 4096;
             max 100, avg 50; failed only with count_cancelled
  160 bad/user -> invalid user name, counts nowhere

March 2024
  170 alice  1 cpu x 36000 s = 10 h -> 10 cpu-h; no ReqTRES mem ->
             ReqMem 2G (whole job) = 2048; max 1536, avg 1024
  171 carol  32 cpus x 1 h = 32 cpu-h; gres/gpu=4: gpu_elapsed 1 h,
             gpu_clock 4 h; mem=256G = 262144;
             steps MaxRSS 1024/8192/4096 -> 8192, AveRSS 512/4096/2048 -> 4096
  172 dave   RUNNING, End Unknown -> counts nowhere
  174 bob    listed twice with the same (JobIDRaw, Submit) -> counted once;
             1 cpu x 7200 s = 2 h -> 2 cpu-h; ReqTRES mem=1000M wins over
             ReqMem 500M -> 1000; max 300, avg 200
"""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import oracle  # noqa: E402

ROOT = os.path.dirname(HERE)
DB = os.path.join(ROOT, "fixtures", "golden", "hammer.db")
EXPECTED_JSON = os.path.join(ROOT, "fixtures", "golden",
                             "hammer.expected.json")


def m(jobs, gpu_jobs, failed_jobs, elapsed_hours, clock_hours,
      gpu_elapsed_hours, gpu_clock_hours, sum_req_mem_mb, sum_avg_mem_mb,
      sum_max_mem_mb):
    return {"jobs": jobs, "gpu_jobs": gpu_jobs, "failed_jobs": failed_jobs,
            "elapsed_hours": elapsed_hours, "clock_hours": clock_hours,
            "gpu_elapsed_hours": gpu_elapsed_hours,
            "gpu_clock_hours": gpu_clock_hours,
            "sum_req_mem_mb": sum_req_mem_mb,
            "sum_avg_mem_mb": sum_avg_mem_mb,
            "sum_max_mem_mb": sum_max_mem_mb}


#            jobs gpuj fail elap clock gpuel gpucl  req     avg    max
EXPECTED_MONTHLY = {
    "2024-01": {
        # 101 + 102: elapsed 2+1=3, clock 8+8=16, gpu 1 / 2,
        # req 16000+65536=81536, avg 512+1024=1536, max 1024+2048=3072
        "alice": m(2, 1, 0, 3, 16, 1, 2, 81536, 1536, 3072),
        # 103 + 110: elapsed 0.5+1=1.5, clock 1+1=2, failed 1 (103),
        # req 500+1024=1524, avg 0+128=128, max 0+256=256
        "bob": m(2, 0, 1, 1.5, 2, 0, 0, 1524, 128, 256),
        # 104 only
        "carol": m(1, 0, 1, 1, 16, 0, 0, 131072, 2048, 4096),
        # 105 + 106: elapsed 1+1, clock 1+1, req 1024+1024,
        # avg 100+100, max 100+200
        "dave": m(2, 0, 0, 2, 2, 0, 0, 2048, 200, 300),
    },
    "2024-02": {
        # 130 + 131: elapsed 1+1, clock 2+4=6, gpu 1 / 1,
        # req 2048+4096=6144, avg 256+1024=1280, max 512+1024=1536
        "alice": m(2, 1, 0, 2, 6, 1, 1, 6144, 1280, 1536),
        # 111 + 140 run1 + 140 run2: elapsed 1+0.5+1=2.5, clock 1+1+2=4,
        # failed 1 (run 1 PREEMPTED), req 1024x3=3072,
        # avg 128+128+256=512, max 256+256+512=1024
        "bob": m(3, 0, 1, 2.5, 4, 0, 0, 3072, 512, 1024),
        # 120 only (150 never started)
        "carol": m(1, 1, 1, 2, 16, 2, 6, 32768, 16384, 32768),
        # 121 + 151: elapsed 1+1, clock 4+4=8, failed 1 (121; 151 is
        # CANCELLED), req 8192+4096=12288, avg 1+50=51, max 2+100=102
        "dave": m(2, 0, 1, 2, 8, 0, 0, 12288, 51, 102),
    },
    "2024-03": {
        # 170 only
        "alice": m(1, 0, 0, 10, 10, 0, 0, 2048, 1024, 1536),
        # 174 only (once)
        "bob": m(1, 0, 0, 2, 2, 0, 0, 1000, 200, 300),
        # 171 only
        "carol": m(1, 1, 0, 1, 32, 1, 4, 262144, 4096, 8192),
        # dave: 172 still running -> no entry
    },
}

# all-time = sum of the three months above
EXPECTED_ALLTIME = {
    # jobs 2+2+1=5, gpu_jobs 1+1=2, elapsed 3+2+10=15, clock 16+6+10=32,
    # gpu_el 1+1=2, gpu_cl 2+1=3, req 81536+6144+2048=89728,
    # avg 1536+1280+1024=3840, max 3072+1536+1536=6144
    "alice": m(5, 2, 0, 15, 32, 2, 3, 89728, 3840, 6144),
    # jobs 2+3+1=6, failed 1+1=2, elapsed 1.5+2.5+2=6, clock 2+4+2=8,
    # req 1524+3072+1000=5596, avg 128+512+200=840, max 256+1024+300=1580
    "bob": m(6, 0, 2, 6, 8, 0, 0, 5596, 840, 1580),
    # jobs 3, gpu_jobs 0+1+1=2, failed 1+1=2, elapsed 1+2+1=4,
    # clock 16+16+32=64, gpu_el 0+2+1=3, gpu_cl 0+6+4=10,
    # req 131072+32768+262144=425984, avg 2048+16384+4096=22528,
    # max 4096+32768+8192=45056
    "carol": m(3, 2, 2, 4, 64, 3, 10, 425984, 22528, 45056),
    # jobs 2+2=4, failed 1, elapsed 2+2=4, clock 2+8=10,
    # req 2048+12288=14336, avg 200+51=251, max 300+102=402
    "dave": m(4, 0, 1, 4, 10, 0, 0, 14336, 251, 402),
}


def flat(nested):
    """{month: {user: m}} -> {(user, month): m} (no arithmetic)."""
    out = {}
    for month, users in nested.items():
        for user, metrics in users.items():
            out[(user, month)] = metrics
    return out


def assert_totals_equal(actual, expected):
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert sorted(actual[key]) == sorted(oracle.METRICS), key
        for metric in oracle.METRICS:
            assert actual[key][metric] == pytest.approx(
                expected[key][metric]), (key, metric)


@pytest.fixture(scope="module")
def rows():
    return oracle.load_rows(DB)


def test_load_rows_reads_every_line(rows):
    # 49 lines in the file: 1 header + 48 rows (22 job lines + 26 step lines)
    assert len(rows) == 48
    assert rows[0]["JobIDRaw"] == "101"
    assert rows[0]["JobName"] == "sim"
    assert sum(1 for r in rows if "." not in r["JobIDRaw"]) == 22


def test_monthly_totals_match_hand_computation(rows):
    assert_totals_equal(oracle.monthly_totals(rows), flat(EXPECTED_MONTHLY))


def test_alltime_totals_match_hand_computation(rows):
    assert_totals_equal(oracle.alltime_totals(rows), EXPECTED_ALLTIME)


def test_expected_json_holds_the_same_numbers():
    with open(EXPECTED_JSON) as f:
        data = json.load(f)
    assert_totals_equal(flat(data["monthly"]), flat(EXPECTED_MONTHLY))
    assert_totals_equal(data["alltime"], EXPECTED_ALLTIME)


def test_count_cancelled_adds_151(rows):
    got = oracle.monthly_totals(rows, count_cancelled=True)
    # only dave's Feb changes: 121 NODE_FAIL + 151 CANCELLED by 1002 = 2
    assert got[("dave", "2024-02")]["failed_jobs"] == 2
    # 150 (carol, CANCELLED, never started) still counts nowhere
    assert got[("carol", "2024-02")]["failed_jobs"] == 1
    assert got[("carol", "2024-02")]["jobs"] == 1


def test_custom_failure_states(rows):
    got = oracle.monthly_totals(rows, failure_states=("FAILED",))
    assert got[("bob", "2024-01")]["failed_jobs"] == 1     # 103
    assert got[("carol", "2024-01")]["failed_jobs"] == 0   # 104 TIMEOUT
    assert got[("bob", "2024-02")]["failed_jobs"] == 0     # 140 PREEMPTED
    assert got[("carol", "2024-02")]["failed_jobs"] == 0   # 120 OOM
    assert got[("dave", "2024-02")]["failed_jobs"] == 0    # 121 NODE_FAIL


def test_optout_removes_user(rows):
    got = oracle.monthly_totals(rows, optout=("carol",))
    expected = flat(EXPECTED_MONTHLY)
    for key in list(expected):
        if key[0] == "carol":
            del expected[key]
    assert_totals_equal(got, expected)


def test_window_across_month_boundary(rows):
    # 2024-01-31 .. 2024-02-01 holds only 110 (23:59:59) and 111 (00:00:00)
    got = oracle.window_totals(rows, "2024-01-31", "2024-02-01")
    assert_totals_equal(got, {"bob": m(2, 0, 0, 2, 2, 0, 0, 2048, 256, 512)})
    got = oracle.window_totals(rows, "2024-02-01", "2024-02-01")
    assert_totals_equal(got, {"bob": m(1, 0, 0, 1, 1, 0, 0, 1024, 128, 256)})
    got = oracle.window_totals(rows, "2024-01-31", "2024-01-31")
    assert_totals_equal(got, {"bob": m(1, 0, 0, 1, 1, 0, 0, 1024, 128, 256)})


def test_window_het_and_requeue(rows):
    # 2024-02-10 .. 2024-02-12: alice 130+131 (same as her Feb month),
    # bob 140 run 1 + run 2: elapsed 0.5+1, clock 1+2, failed 1,
    # req 1024+1024, avg 128+256, max 256+512
    got = oracle.window_totals(rows, "2024-02-10", "2024-02-12")
    assert_totals_equal(got, {
        "alice": m(2, 1, 0, 2, 6, 1, 1, 6144, 1280, 1536),
        "bob": m(2, 0, 1, 1.5, 3, 0, 0, 2048, 384, 768),
    })


def test_ranks(rows):
    alltime = oracle.alltime_totals(rows)
    assert oracle.ranks(alltime, "clock_hours") == [
        (1, "carol", 64), (2, "alice", 32), (3, "dave", 10), (4, "bob", 8)]
    # tie alice/carol at 2 GPU jobs and bob/dave at 0: broken by name
    assert oracle.ranks(alltime, "gpu_jobs") == [
        (1, "alice", 2), (2, "carol", 2), (3, "bob", 0), (4, "dave", 0)]
    # min_jobs=5: only alice (5 jobs) and bob (6 jobs)
    assert oracle.ranks(alltime, "clock_hours", min_jobs=5) == [
        (1, "alice", 32), (2, "bob", 8)]


def test_oracle_cli_prints_monthly_json():
    out = subprocess.check_output([sys.executable,
                                   os.path.join(HERE, "oracle.py"), DB])
    assert_totals_equal(flat(json.loads(out.decode())),
                        flat(EXPECTED_MONTHLY))


# ---- small unit checks of the individual rules -----------------------------

def test_user_normalisation():
    assert oracle.clean_user("Alice@EXAMPLE.ORG") == "alice"
    assert oracle.clean_user("bad/user") is None
    assert oracle.clean_user("") is None
    assert oracle.clean_user("-dash") is None
    assert oracle.clean_user("_svc.x-1") == "_svc.x-1"


def test_gpu_counting():
    assert oracle.count_gpus("cpu=4,gres/gpu=2,gres/gpu:a100=2") == 2
    assert oracle.count_gpus("gres/gpu:a100=1,gres/gpu:v100=2") == 3
    assert oracle.count_gpus("cpu=8,gres/gpumem=80G,gres/gpuutil=5") == 0
    assert oracle.count_gpus("") == 0


def test_req_mem():
    def req(reqmem, reqtres="", cpus="4", nodes="2"):
        return oracle.requested_mem_mb({"ReqMem": reqmem, "ReqTRES": reqtres,
                                        "AllocCPUS": cpus, "NNodes": nodes})
    assert req("500M") == 500
    assert req("4000Mc") == 16000
    assert req("64Gn") == 131072
    assert req("2G") == 2048
    assert req("1000") == 1000
    assert req("") == 0
    assert req("500M", "cpu=1,mem=16000M") == 16000
    assert req("", "mem=1T") == 1048576
    assert req("", "mem=2048K") == 2


def test_rss_units():
    def rss(maxrss, tres=""):
        return oracle.step_rss_mb({"MaxRSS": maxrss, "TRESUsageInMax": tres},
                                  "MaxRSS", "TRESUsageInMax")
    assert rss("1048576") == 1
    assert rss("1024K") == 1
    assert rss("2048K") == 2
    assert rss("3M") == 3
    assert rss("1G") == 1024
    assert rss("", "cpu=00:00:01,mem=104857600,vmem=1") == 100
    assert rss("", "mem=2M") == 2
    assert rss("") == 0

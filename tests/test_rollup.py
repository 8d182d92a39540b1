"""Rollup arithmetic: exact integer counters, and files whose floats convert back exactly."""
import gzip
import json

import pytest
from hypothesis import given, strategies as st

from sb.collect.jobs import Job
from sb.collect.batch import Batch, job_counters
from sb.store.counters import V1_METRICS, all_metrics, from_metrics, to_metrics
from sb.store.rollups import (FORMAT, daily_json, merge_days, month_totals, monthly_json, parse_daily, parse_monthly,
                              parse_user, user_json)

KIB = 1024


def make_job(user="alice", end=1706745599, elapsed=3600, cpus=4, gpus=0, req=1024, failed=False, mx=10, av=5, key=1,
             account="phys", partition="cpu", limit=0, wait=0, cpu_ms=0, used=None, sampled=None, busy=None):
    """A job; memory in KiB (times 1024 to the job's bytes)."""
    return Job(key, user, account, partition, end, elapsed, cpus, gpus, req * KIB, failed, limit, wait, cpu_ms,
               mx * KIB, av * KIB, (mx if used is None else used) * KIB, req > 0 if sampled is None else sampled,
               busy)


def test_job_counters_follow_the_metric_definitions():
    gpu_job = make_job(elapsed=1800, cpus=8, gpus=2, req=2048, failed=True, mx=4096, av=1024, limit=3600, wait=90,
                       cpu_ms=8 * 900 * 1000, busy=150)
    metrics = all_metrics(job_counters(gpu_job))
    assert {k: metrics[k] for k in V1_METRICS} == {
        "jobs": 1, "gpu_jobs": 1, "failed_jobs": 1, "elapsed_hours": 0.5, "clock_hours": 4.0,
        "gpu_elapsed_hours": 0.5, "gpu_clock_hours": 1.0, "sum_req_mem_mb": 2.0, "sum_avg_mem_mb": 1.0,
        "sum_max_mem_mb": 4.0}
    assert metrics["cpu_used_hours"] == 2.0 and metrics["cpu_efficiency"] == 0.5 and metrics["cpu_wasted_hours"] == 2.0
    assert metrics["timelimit_hours"] == 1.0 and metrics["time_efficiency"] == 0.5
    assert metrics["wait_hours"] == 90 / 3600 and metrics["avg_wait_hours"] == 90 / 3600
    assert metrics["mem_sampled_jobs"] == 1 and metrics["req_mem_mb_hours"] == 1.0 and metrics["used_mem_mb_hours"] == 2.0
    assert metrics["mem_efficiency"] == 2.0 and metrics["mem_wasted_gb_hours"] == 0   # used more than asked
    assert metrics["gpu_sampled_hours"] == 1.0 and metrics["gpu_busy_hours"] == 0.75 and metrics["gpu_efficiency"] == 0.75
    cpu_only = all_metrics(job_counters(make_job(elapsed=7200, cpus=3, req=0)))
    assert cpu_only["gpu_jobs"] == 0 and cpu_only["gpu_elapsed_hours"] == 0 and cpu_only["clock_hours"] == 6.0
    assert cpu_only["mem_efficiency"] is None and cpu_only["gpu_efficiency"] is None   # unknown, never 0
    assert cpu_only["time_efficiency"] is None and cpu_only["cpu_efficiency"] == 0.0


COUNTER = st.integers(min_value=0, max_value=2 ** 50)


@given(st.lists(COUNTER, min_size=10, max_size=10))
def test_first_release_metrics_convert_back_to_the_exact_counters(counters):
    assert from_metrics(dict(zip(V1_METRICS, (c if s == 1 else c / s for c, s in zip(
        counters, (1, 1, 1, 3600, 3600, 3600, 3600, 1024, 1024, 1024))))), "x") == counters


def test_from_metrics_refuses_values_that_are_not_whole_units():
    with pytest.raises(ValueError, match="not whole seconds"):
        from_metrics(dict(to_metrics([1] * 10), elapsed_hours=0.1234567), "f.json")
    with pytest.raises(ValueError, match="clock_hours"):
        from_metrics(dict(to_metrics([1] * 10), clock_hours="7"), "f.json")


def test_batch_attributes_jobs_to_the_utc_day_and_month_of_their_end():
    batch = Batch()
    batch.add(make_job(end=1706745599))         # 2024-01-31T23:59:59Z
    batch.add(make_job(end=1706745600, key=2))  # 2024-02-01T00:00:00Z
    assert sorted(batch.months) == ["2024-01", "2024-02"]
    assert list(batch.months["2024-01"]) == [1706745599 // 86400]
    assert batch.user_totals()["alice"][("phys", "cpu")][0] == 2


def test_daily_monthly_and_user_files_round_trip():
    batch = Batch()
    for n, user in enumerate(["bob", "alice", "bob"]):
        batch.add(make_job(user=user, key=n, end=1706745599 - n * 86400, elapsed=1000 + n))
    daily = merge_days({}, batch.months["2024-01"])
    assert parse_daily(daily_json("2024-01", daily), "d") == daily
    totals = month_totals(daily)
    doc = json.loads(gzip.decompress(monthly_json("2024-01", totals, 1706745600)).decode())   # zcat | jq
    assert doc["asof"] == "2024-02-01T00:00:00Z" and doc["month"] == "2024-01"
    assert [row["username"] for row in doc["users"]] == ["alice", "bob"]
    assert list(doc["users"][0]) == ["username", "account", "partition", "counters"]
    assert doc["users"][0]["counters"] == totals["alice", "phys", "cpu"]
    assert parse_monthly(monthly_json("2024-01", totals, 0), "m") == totals
    bob = {("phys", "cpu"): totals["bob", "phys", "cpu"]}
    user_doc = json.loads(gzip.decompress(user_json("bob", "hammer", bob, 0)).decode())
    assert user_doc["schema_version"] == FORMAT and user_doc["clusters"]["hammer"]["counts"]["jobs"] == 2
    assert parse_user(user_json("bob", "hammer", bob, 0), "hammer", "u") == bob


def test_summing_is_order_free_to_the_byte():
    jobs = [make_job(key=n, elapsed=n * 37 + 1, cpus=n % 5 + 1, mx=n * 1001) for n in range(200)]
    forward, backward = Batch(), Batch()
    for job in jobs:
        forward.add(job)
    for job in reversed(jobs):
        backward.add(job)
    a = monthly_json("2024-01", month_totals(merge_days({}, forward.months["2024-01"])), 0)
    b = monthly_json("2024-01", month_totals(merge_days({}, backward.months["2024-01"])), 0)
    assert a == b


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 64), st.integers(0, 8), st.booleans(),
                          st.integers(0, 10 ** 4), st.booleans(), st.one_of(st.none(), st.integers(0, 800))),
                min_size=1, max_size=20))
def test_the_unrolled_batch_sums_equal_job_counters(specs):
    batch, expected = Batch(), None
    from sb.store.counters import add_into, zero
    expected = zero()
    for n, (elapsed, cpus, gpus, failed, limit, sampled, busy) in enumerate(specs):
        job = make_job(key=n, elapsed=elapsed, cpus=cpus, gpus=gpus, failed=failed, limit=limit, wait=n * 7,
                       cpu_ms=elapsed * 999, sampled=sampled, busy=busy if gpus else None, used=n * 3)
        batch.add(job)
        add_into(expected, job_counters(job))
    assert batch.months["2024-01"][1706745599 // 86400][("alice", "phys", "cpu")] == expected


def test_rollups_are_gzip_the_same_bytes_every_time_and_first_release_text_is_still_read():
    daily = {"01": {("alice", "phys", "cpu"): [1] * 20}}
    assert daily_json("2024-01", daily) == daily_json("2024-01", daily)      # no time in the gzip header
    assert daily_json("2024-01", daily)[:2] == b"\x1f\x8b"
    first = b'{"month":"2024-01","columns":["jobs","gpu_jobs","failed_jobs","elapsed_s","cpu_s","gpu_elapsed_s",' \
            b'"gpu_s","req_mem_kib","avg_mem_kib","max_mem_kib"],"days":{"01":{"bob":[1,0,0,60,60,0,0,2,1,1]}}}'
    assert parse_daily(first, "d")["01"]["bob", "(unknown)", "(unknown)"][:10] == [1, 0, 0, 60, 60, 0, 0, 2048,
                                                                                   1024, 1024]
    with pytest.raises(ValueError, match="gzip"):
        parse_daily(daily_json("2024-01", daily)[:-9], "d")        # cut short


def test_monthly_columns_are_the_rows_sums_in_hours_one_entry_per_row(tmp_path):
    from sb.store.data import ClusterData
    from sb.store.layout import ClusterPaths
    paths = ClusterPaths(str(tmp_path), "hammer")
    paths.make_dirs()
    alice = [3, 1, 0, 7200, 3600 * 64 + 1, 0, 1800] + [0] * 13
    totals = {("alice", "phys", "cpu"): alice, ("alice", "chem", "gpu"): alice, ("bob", "phys", "cpu"): [1] + [0] * 19}
    with open(paths.monthly("2024-03"), "wb") as handle:
        handle.write(monthly_json("2024-03", totals, 1700000000))
    users, columns = ClusterData(paths).monthly_columns("2024-03", {"clock_hours", "jobs", "cpu_efficiency"})
    assert users == ["alice", "alice", "bob"] and sorted(columns) == ["clock_hours", "jobs"]   # sums only
    assert columns["clock_hours"] == [(3600 * 64 + 1) / 3600] * 2 + [0.0] and columns["jobs"] == [3, 3, 1]


def test_monthly_columns_by_regular_expression_equal_the_json_reading():
    # the report's fast path: rows as monthly_json writes them; any other text falls back to json
    from sb.store.rollups import monthly_columns
    import json as json_module
    totals = {("al.ice", 'we"ird\\acct', "cpu"): [3, 1, 0, 7200, 230401] + list(range(15)),
              ("bob", "phys", "gpu"): [1] + [7] * 19}
    data = monthly_json("2024-03", totals, 0)
    names = ["gpu_clock_hours", "jobs", "clock_hours"]
    fast = monthly_columns(data, "m", names)
    assert fast == (["al.ice", "bob"], {"jobs": [3, 1], "clock_hours": [230401 / 3600, 7 / 3600],
                                        "gpu_clock_hours": [1 / 3600, 7 / 3600]})
    doc = json_module.loads(gzip.decompress(data).decode().rsplit(',"crc32"', 1)[0] + "}")
    slow = monthly_columns(gzip.compress(json_module.dumps(doc, indent=2).encode()), "m", names)  # no regex match
    assert slow == fast and type(slow[1]["jobs"][0]) is int

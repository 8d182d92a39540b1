"""Rollup arithmetic: exact integer counters, and files whose floats convert back exactly."""
import json

import pytest
from hypothesis import given, strategies as st

from sb.collect.jobs import Job
from sb.collect.batch import Batch, job_counters
from sb.store.counters import from_metrics, METRICS, to_metrics
from sb.store.rollups import daily_json, merge_days, month_totals, monthly_json, parse_daily, parse_monthly, parse_user, user_json


def make_job(user="alice", end=1706745599, elapsed=3600, cpus=4, gpus=0, req=1024, failed=False, mx=10, av=5, key=1):
    return Job(key, user, end, elapsed, cpus, gpus, req, failed, mx, av)


def test_job_counters_follow_the_metric_definitions():
    gpu_job = make_job(elapsed=1800, cpus=8, gpus=2, req=2048, failed=True, mx=4096, av=1024)
    metrics = to_metrics(job_counters(gpu_job))
    assert metrics == {"jobs": 1, "gpu_jobs": 1, "failed_jobs": 1, "elapsed_hours": 0.5, "clock_hours": 4.0,
                       "gpu_elapsed_hours": 0.5, "gpu_clock_hours": 1.0, "sum_req_mem_mb": 2.0,
                       "sum_avg_mem_mb": 1.0, "sum_max_mem_mb": 4.0}
    cpu_only = to_metrics(job_counters(make_job(elapsed=7200, cpus=3)))
    assert cpu_only["gpu_jobs"] == 0 and cpu_only["gpu_elapsed_hours"] == 0 and cpu_only["clock_hours"] == 6.0


COUNTER = st.integers(min_value=0, max_value=2 ** 50)


@given(st.lists(COUNTER, min_size=10, max_size=10))
def test_metrics_convert_back_to_the_exact_counters(counters):
    assert from_metrics(to_metrics(counters), "x") == counters


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
    assert batch.user_totals()["alice"][0] == 2


def test_daily_monthly_and_user_files_round_trip():
    batch = Batch()
    for n, user in enumerate(["bob", "alice", "bob"]):
        batch.add(make_job(user=user, key=n, end=1706745599 - n * 86400, elapsed=1000 + n))
    daily = merge_days({}, batch.months["2024-01"])
    assert parse_daily(daily_json("2024-01", daily), "d") == daily
    totals = month_totals(daily)
    doc = json.loads(monthly_json("2024-01", totals, 1706745600).decode())
    assert doc["asof"] == "2024-02-01T00:00:00Z" and doc["month"] == "2024-01"
    assert [row["username"] for row in doc["users"]] == ["alice", "bob"]
    assert list(doc["users"][0]) == ["username"] + list(METRICS)
    assert parse_monthly(monthly_json("2024-01", totals, 0), "m") == totals
    user_doc = json.loads(user_json("bob", "hammer", totals["bob"], 0).decode())
    assert user_doc["schema_version"] == 1 and user_doc["clusters"]["hammer"]["counts"]["jobs"] == 2
    assert parse_user(user_json("bob", "hammer", totals["bob"], 0), "hammer", "u") == totals["bob"]


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


def test_monthly_columns_read_fast_equal_json_and_other_rows_fall_back_to_json():
    import json as json_module
    from sb.store.rollups import monthly_json, parse_monthly_columns, parse_monthly_metrics
    from sb.store.seal import seal
    totals = {"alice": [3, 1, 0, 7200, 3600 * 64 + 1, 0, 1800, 4096, 1024, 2048], "bob": [1] + [0] * 9}
    data = monthly_json("2024-03", totals, 1700000000)
    keys = {"clock_hours", "gpu_clock_hours", "sum_max_mem_mb", "not_there"}
    users, columns = parse_monthly_columns(data, "x", keys)
    rows = parse_monthly_metrics(data, "x")
    assert users == ["alice", "bob"] and sorted(columns) == ["clock_hours", "gpu_clock_hours", "sum_max_mem_mb"]
    assert columns == {k: [float(rows[u][k]) for u in users] for k in columns}
    assert columns["clock_hours"] == [(3600 * 64 + 1) / 3600, 0.0]
    # a row with a key this version does not write (collector v2's), or a null: read as json, nulls kept
    doc = json_module.loads(data.decode().rsplit(',"crc32"', 1)[0] + "}")
    doc["users"][0]["cpu_used_hours"] = 12.5
    doc["users"][1]["clock_hours"] = None
    users, columns = parse_monthly_columns(seal(json_module.dumps(doc).encode()), "x", keys | {"cpu_used_hours"})
    assert columns["cpu_used_hours"] == [12.5, None] and columns["clock_hours"][1] is None
    # several rows of one user (collector v2: one per user, account and partition) all count
    doc["users"].append(dict(doc["users"][0], account="physics"))
    users, columns = parse_monthly_columns(seal(json_module.dumps(doc).encode()), "x", keys | {"cpu_used_hours"})
    assert users == ["alice", "bob", "alice"] and columns["cpu_used_hours"] == [12.5, None, 12.5]
    with pytest.raises(ValueError, match="checksum"):
        parse_monthly_columns(data.replace(b"alice", b"alicf"), "x", keys)

"""The counter vector every stored figure is made of: exact integers (seconds, CPU-seconds, KiB) per
user, and their conversion to the spec's metrics (hours, MB) and back, exactly.

Counters are integers so sums are exact and order-free: a rollup updated tick by tick and one rebuilt from
scratch are the same numbers, to the byte. Hours and MB are derived only when writing files.
"""
import math

# Counter columns (integers) and the spec metric each one becomes when divided by its scale.
COLUMNS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_s", "cpu_s", "gpu_elapsed_s", "gpu_s",
           "req_mem_kib", "avg_mem_kib", "max_mem_kib")
METRICS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_hours", "clock_hours", "gpu_elapsed_hours",
           "gpu_clock_hours", "sum_req_mem_mb", "sum_avg_mem_mb", "sum_max_mem_mb")
SCALES = (1, 1, 1, 3600, 3600, 3600, 3600, 1024, 1024, 1024)
COUNT_METRICS = METRICS[:3]
WIDTH = len(COLUMNS)


def add_into(total, counters):
    for i, value in enumerate(counters):
        total[i] += value
    return total


def zero():
    return [0] * WIDTH


def to_metrics(counters):
    """Counters → {metric: value} with the spec's units (hours, MB); counts stay integers."""
    return {name: (value if scale == 1 else value / scale)
            for name, value, scale in zip(METRICS, counters, SCALES)}


def from_metrics(metrics, where):
    """{metric: value} → counters, exactly inverting to_metrics (checked, never silently off)."""
    counters = []
    for name, scale in zip(METRICS, SCALES):
        value = metrics.get(name, 0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
            raise ValueError("{}: {} is {!r}, expected a non-negative number".format(where, name, value))
        counters.append(int(round(value * scale)))
    if to_metrics(counters) != {name: metrics.get(name, 0) for name in METRICS}:
        raise ValueError("{}: values are not whole seconds/KiB; run `rebuild`".format(where))
    return counters

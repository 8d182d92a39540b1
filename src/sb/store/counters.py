"""The counter vector every stored figure is made of: exact integers (seconds, CPU-milliseconds, bytes) per
user, account and partition, and their conversion to the spec's metrics (hours, MB, ratios), exactly.

Counters are integers so sums are exact and order-free: a rollup updated tick by tick and one rebuilt from
scratch are the same numbers, to the byte. Hours, MB and ratios are derived only when writing files.
"""
import math

MB = 1 << 20           # memory is stored in bytes; "MB" in the spec's keys is MiB, as sacct's M
HOUR = 3600

# Counter columns (integers) and the spec metric each one becomes when divided by its scale.
COUNTERS = (
    # name,              metric,                scale
    ("jobs", "jobs", 1),
    ("gpu_jobs", "gpu_jobs", 1),
    ("failed_jobs", "failed_jobs", 1),
    ("elapsed_s", "elapsed_hours", HOUR),
    ("cpu_s", "clock_hours", HOUR),                       # AllocCPUS x elapsed: the core-hours held
    ("gpu_elapsed_s", "gpu_elapsed_hours", HOUR),
    ("gpu_s", "gpu_clock_hours", HOUR),                   # GPUs x elapsed
    ("req_mem_b", "sum_req_mem_mb", MB),
    ("avg_mem_b", "sum_avg_mem_mb", MB),
    ("max_mem_b", "sum_max_mem_mb", MB),
    ("cpu_used_ms", "cpu_used_hours", HOUR * 1000),       # TotalCPU: the core-hours used
    ("timelimit_s", "timelimit_hours", HOUR),             # of jobs with a finite limit only
    ("limited_elapsed_s", "limited_elapsed_hours", HOUR),
    ("wait_s", "wait_hours", HOUR),
    ("mem_sampled_jobs", "mem_sampled_jobs", 1),
    ("req_mem_b_s", "req_mem_mb_hours", MB * HOUR),       # of mem-sampled jobs only
    ("used_mem_b_s", "used_mem_mb_hours", MB * HOUR),
    ("gpu_sampled_jobs", "gpu_sampled_jobs", 1),          # GPU jobs with a gres/gpuutil sample
    ("gpu_sampled_s", "gpu_sampled_hours", HOUR),         # their GPUs x elapsed
    ("gpu_busy_pct_s", "gpu_busy_hours", HOUR * 100),     # their utilisation (percent of one GPU) x elapsed
)
COLUMNS = tuple(c[0] for c in COUNTERS)
METRICS = tuple(c[1] for c in COUNTERS)
SCALES = tuple(c[2] for c in COUNTERS)
COUNT_METRICS = ("jobs", "gpu_jobs", "failed_jobs", "mem_sampled_jobs", "gpu_sampled_jobs")
WIDTH = len(COLUMNS)
INDEX = {name: i for i, name in enumerate(COLUMNS)}
# The ten counters of the first release (format 1), in its order and units (memory in KiB).
V1_COLUMNS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_s", "cpu_s", "gpu_elapsed_s", "gpu_s",
              "req_mem_kib", "avg_mem_kib", "max_mem_kib")
V1_METRICS = METRICS[:10]
V1_SCALES = (1, 1, 1, HOUR, HOUR, HOUR, HOUR, 1024, 1024, 1024)
# Ratios and differences made of the sums above (None when the denominator is 0: unknown, never 0).
DERIVED = ("cpu_efficiency", "mem_efficiency", "time_efficiency", "gpu_efficiency", "cpu_wasted_hours",
           "mem_wasted_gb_hours", "avg_wait_hours")


def add_into(total, counters):
    for i, value in enumerate(counters):
        total[i] += value
    return total


def zero():
    return [0] * WIDTH


def from_v1(counters):
    """A first-release counter row (KiB) → today's columns (bytes; the new counters unknown, so 0)."""
    row = list(counters[:7]) + [value * 1024 for value in counters[7:10]]
    return row + [0] * (WIDTH - len(row))


def to_metrics(counters):
    """Counters → {metric: value} with the spec's units (hours, MB); counts stay integers."""
    return {name: (value if scale == 1 else value / scale)
            for name, value, scale in zip(METRICS, counters, SCALES)}


def derived(counters):
    """The efficiency figures of a counter row: fractions (0.42), hours, GB-hours; None when unknown.
    Ranking on one computes it for every player: the counters are read by position, not through a dict."""
    (jobs, _, _, _, cpu_s, _, _, _, _, _, used_ms, limit_s, limited_s, wait_s, _, req_b_s, used_b_s, _,
     gpu_sampled_s, gpu_busy) = counters
    core_ms = cpu_s * 1000
    return {
        "cpu_efficiency": _ratio(used_ms, core_ms),
        "mem_efficiency": _ratio(used_b_s, req_b_s),
        "time_efficiency": _ratio(limited_s, limit_s),
        "gpu_efficiency": _ratio(gpu_busy, gpu_sampled_s * 100),
        "cpu_wasted_hours": max(0, core_ms - used_ms) / (HOUR * 1000),
        "mem_wasted_gb_hours": max(0, req_b_s - used_b_s) / (MB * HOUR * 1024),
        "avg_wait_hours": _ratio(wait_s, jobs * HOUR),
    }


def derived_columns(columns):
    """derived() of many rows at once, {figure: [value per row]}, from the counter columns it reads
    ({name: [value per row]}): the same arithmetic, a list per figure instead of a dict per row (ranking one
    player among 10k on every figure)."""
    jobs, cpu_s, used_ms = columns["jobs"], columns["cpu_s"], columns["cpu_used_ms"]
    req_b_s, used_b_s = columns["req_mem_b_s"], columns["used_mem_b_s"]
    return {
        "cpu_efficiency": [u / (c * 1000) if c else None for u, c in zip(used_ms, cpu_s)],
        "mem_efficiency": [u / r if r else None for u, r in zip(used_b_s, req_b_s)],
        "time_efficiency": [e / t if t else None for e, t in zip(columns["limited_elapsed_s"], columns["timelimit_s"])],
        "gpu_efficiency": [b / (g * 100) if g else None for b, g in zip(columns["gpu_busy_pct_s"],
                                                                        columns["gpu_sampled_s"])],
        "cpu_wasted_hours": [max(0, c * 1000 - u) / (HOUR * 1000) for u, c in zip(used_ms, cpu_s)],
        "mem_wasted_gb_hours": [max(0, r - u) / (MB * HOUR * 1024) for u, r in zip(used_b_s, req_b_s)],
        "avg_wait_hours": [w / (j * HOUR) if j else None for w, j in zip(columns["wait_s"], jobs)],
    }


def all_metrics(counters):
    """to_metrics and derived in one mapping: every key a row of `tui --json` carries."""
    metrics = to_metrics(counters)
    metrics.update(derived(counters))
    return metrics


def _ratio(part, whole):
    return part / whole if whole else None


def from_metrics(metrics, where, names=V1_METRICS, scales=V1_SCALES):
    """{metric: value} of a first-release file → its counters, exactly inverting to_metrics (checked, never
    silently off)."""
    counters = []
    for name, scale in zip(names, scales):
        value = metrics.get(name, 0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
            raise ValueError("{}: {} is {!r}, expected a non-negative number".format(where, name, value))
        counters.append(int(round(value * scale)))
    if any((c if s == 1 else c / s) != metrics.get(n, 0) for n, c, s in zip(names, counters, scales)):
        raise ValueError("{}: values are not whole seconds/KiB; run `rebuild`".format(where))
    return counters


def check_row(counters, where):
    """A stored counter row: WIDTH non-negative integers, else ValueError naming the file."""
    if len(counters) != WIDTH or not all(type(v) is int and v >= 0 for v in counters):
        raise ValueError("{}: bad counters {!r}".format(where, counters)[:300])
    return counters

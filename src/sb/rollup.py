"""Stage 4, job records → rollups: exact integer counters per user and UTC day, and the JSON files made of them.

Counters are integers (seconds, CPU-seconds, KiB) so sums are exact and order-free: a rollup updated
tick by tick and one rebuilt from scratch are the same numbers, to the byte. Hours and MB are derived
only when writing files.
"""
import json
import math

from sb.timeutil import DAY, day_label, day_month, iso_utc, month_start, next_month

# Counter columns (integers) and the spec metric each one becomes when divided by its scale.
COLUMNS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_s", "cpu_s", "gpu_elapsed_s", "gpu_s",
           "req_mem_kib", "avg_mem_kib", "max_mem_kib")
METRICS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_hours", "clock_hours", "gpu_elapsed_hours",
           "gpu_clock_hours", "sum_req_mem_mb", "sum_avg_mem_mb", "sum_max_mem_mb")
SCALES = (1, 1, 1, 3600, 3600, 3600, 3600, 1024, 1024, 1024)
COUNT_METRICS = METRICS[:3]
WIDTH = len(COLUMNS)


def job_counters(job):
    """One job's contribution, in COLUMNS order."""
    gpu = job.gpus > 0
    return [1, int(gpu), int(job.failed), job.elapsed, job.cpus * job.elapsed,
            job.elapsed if gpu else 0, job.gpus * job.elapsed, job.req_kib, job.avg_kib, job.max_kib]


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


class Batch:
    """Counters of newly counted jobs, by month → day → user."""

    def __init__(self):
        self.months = {}
        self.jobs = 0
        self._days = {}  # day number → its {user: counters}, the hot path's shortcut into self.months

    def add(self, job):
        """Add one job: the same sums as add_into(total, job_counters(job)), unrolled (hot path)."""
        day = job.end // DAY
        users = self._days.get(day)
        if users is None:
            users = self._days[day] = self.months.setdefault(day_month(day), {}).setdefault(day, {})
        total = users.get(job.user)
        if total is None:
            total = users[job.user] = zero()
        elapsed, gpus = job.elapsed, job.gpus
        total[0] += 1
        total[3] += elapsed
        total[4] += job.cpus * elapsed
        total[7] += job.req_kib
        total[8] += job.avg_kib
        total[9] += job.max_kib
        if gpus:
            total[1] += 1
            total[5] += elapsed
            total[6] += gpus * elapsed
        if job.failed:
            total[2] += 1
        self.jobs += 1

    def user_totals(self):
        """{user: counters} summed over the whole batch."""
        totals = {}
        for days in self.months.values():
            for users in days.values():
                for user, counters in users.items():
                    add_into(totals.setdefault(user, zero()), counters)
        return totals


# ---- daily rollups: the exact record of a month, {"DD": {user: counters}} -------------------------

def merge_days(daily, batch_days):
    """Add a batch's {day number: {user: counters}} into a daily mapping {"DD": {user: counters}}."""
    for day, users in batch_days.items():
        target = daily.setdefault(day_label(day), {})
        for user, counters in users.items():
            add_into(target.setdefault(user, zero()), counters)
    return daily


def remove_user(daily, month, user, first_day=None, last_day=None):
    """Drop a user's entries from a month's daily mapping (only days first_day..last_day if given);
    return the counters removed. Days left empty are dropped."""
    removed, base = zero(), month_start(month) // DAY - 1
    for label in list(daily):
        day = base + int(label)
        if user in daily[label] and (first_day is None or first_day <= day <= last_day):
            add_into(removed, daily[label].pop(user))
            if not daily[label]:
                del daily[label]
    return removed


def window_totals(load_daily, first_day, last_day, totals=None):
    """{user: counters} of jobs whose End falls on UTC days first_day..last_day, from the daily rollups
    of the months they span (`load_daily(month)` -> that month's daily mapping)."""
    totals = {} if totals is None else totals
    month = day_month(first_day)
    while month <= day_month(last_day):
        before_first = month_start(month) // DAY - 1
        for label, users in load_daily(month).items():
            if first_day <= before_first + int(label) <= last_day:
                for user, counters in users.items():
                    add_into(totals.setdefault(user, zero()), counters)
        month = next_month(month)
    return totals


def month_totals(daily):
    """{user: counters} of a month from its daily mapping."""
    totals = {}
    for users in daily.values():
        for user, counters in users.items():
            add_into(totals.setdefault(user, zero()), counters)
    return totals


def daily_json(month, daily):
    lines = ['{"month":%s,"columns":%s,"days":{' % (json.dumps(month), _compact(list(COLUMNS)))]
    days = sorted(daily)
    for n, day in enumerate(days):
        users = daily[day]
        body = ",".join("%s:%s" % (json.dumps(u), _compact(users[u])) for u in sorted(users))
        lines.append('%s:{%s}%s' % (json.dumps(day), body, "," if n < len(days) - 1 else ""))
    lines.append("}}")
    return ("\n".join(lines) + "\n").encode()


def parse_daily(data, where):
    doc = json.loads(data.decode())
    if list(doc.get("columns", ())) != list(COLUMNS):
        raise ValueError("{}: columns are {!r}, expected {!r}".format(where, doc.get("columns"), COLUMNS))
    daily = {}
    for day, users in doc["days"].items():
        daily[day] = {}
        for user, counters in users.items():
            if len(counters) != WIDTH or not all(isinstance(v, int) and v >= 0 for v in counters):
                raise ValueError("{}: day {} user {} has bad counters".format(where, day, user))
            daily[day][user] = list(counters)
    return daily


# ---- monthly rollups and user files: the spec's shapes ------------------------------------------

def monthly_json(month, totals, asof):
    rows = [dict([("username", user)] + list(to_metrics(totals[user]).items())) for user in sorted(totals)]
    return _document([("asof", iso_utc(asof)), ("month", month)], "users", rows)


def parse_monthly(data, where):
    """{user: counters} of a monthly rollup file."""
    doc = json.loads(data.decode())
    return {row["username"]: from_metrics(row, "{} user {}".format(where, row.get("username")))
            for row in doc["users"]}


def user_json(user, cluster, counters, asof):
    metrics = to_metrics(counters)
    entry = {"asof": iso_utc(asof),
             "counts": {name: metrics[name] for name in COUNT_METRICS},
             "totals": {name: metrics[name] for name in METRICS[3:]}}
    doc = {"schema_version": 1, "username": user, "clusters": {cluster: entry}}
    return (json.dumps(doc, indent=1) + "\n").encode()


def parse_user(data, cluster, where):
    entry = json.loads(data.decode())["clusters"][cluster]
    merged = dict(entry["counts"])
    merged.update(entry["totals"])
    return from_metrics(merged, where)


def _compact(value):
    return json.dumps(value, separators=(",", ":"))


def _document(head, list_key, rows):
    """JSON with `head` keys first and one `rows` item per line: small diffs, greppable by user."""
    opening = ",".join("%s:%s" % (json.dumps(k), _compact(v)) for k, v in head)
    body = ",\n".join(_compact(row) for row in rows)
    return ("{%s,%s:[\n%s\n]}\n" % (opening, json.dumps(list_key), body)).encode()

#!/usr/bin/env python3
"""Oracle: a deliberately simple second implementation of the scoreboard rules.

Independent of the product (imports nothing from ``sb``).  Plain dicts, plain
loops; readability over speed.  Runs on Python 3.6+.

API
  load_rows(path)                        -> [ {field: value} ]
  monthly_totals(rows, ...)              -> {(user, "YYYY-MM"): {metric: value}}
  alltime_totals(rows, ...)              -> {user: {metric: value}}
  window_totals(rows, first_day, last_day, ...)  (UTC dates, inclusive)
                                         -> {user: {metric: value}}
  ranks(totals, metric, min_jobs=3)      -> [(rank, user, value)]
  nest_monthly(monthly)                  -> {"YYYY-MM": {user: {metric: value}}}
  jobs(rows, ...)                        -> [per-job dict] (the counted jobs)

Collector v2 (issue 11): every metric of a `tui --json` row, per user, account or partition:
  group_totals(rows, by="user"|"account"|"partition", first_day=None,
               last_day=None, monthly=False, ...)
                                         -> {name: {metric: value}}
                                            ({(name, "YYYY-MM"): ...} with monthly)
  group_users(rows, by, first_day=None, last_day=None, ...)
                                         -> {name: set of users with jobs}
  sum_totals([totals, ...])              -> the totals summed by name (ALL)
  ALL_METRICS                            = METRICS + V2_METRICS + DERIVED

``...`` = failure_states=DEFAULT_FAILURE_STATES, count_cancelled=False,
optout=().

CLI:  python3 tests/oracle.py FILE.db [--count-cancelled] [--optout u1,u2]
prints the monthly totals as JSON {"YYYY-MM": {user: {metric: value}}}.
"""

import datetime
import json
import re
import sys

DEFAULT_FAILURE_STATES = ("FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                          "TIMEOUT")
DEFAULT = DEFAULT_FAILURE_STATES

METRICS = ("jobs", "gpu_jobs", "failed_jobs", "elapsed_hours", "clock_hours",
           "gpu_elapsed_hours", "gpu_clock_hours", "sum_req_mem_mb",
           "sum_avg_mem_mb", "sum_max_mem_mb")

# collector v2: sums (hours, MB-hours, counts) and the ratios made of them
V2_METRICS = ("cpu_used_hours", "timelimit_hours", "limited_elapsed_hours",
              "wait_hours", "mem_sampled_jobs", "req_mem_mb_hours",
              "used_mem_mb_hours", "gpu_sampled_jobs", "gpu_sampled_hours",
              "gpu_busy_hours")
DERIVED = ("cpu_efficiency", "mem_efficiency", "time_efficiency",
           "gpu_efficiency", "cpu_wasted_hours", "mem_wasted_gb_hours",
           "avg_wait_hours")
ALL_METRICS = METRICS + V2_METRICS + DERIVED
NO_GROUP = "(none)"
# TimelimitRaw of no finite limit: names, SLURM's INFINITE/NO_VAL, 0
NO_LIMIT = ("", "UNLIMITED", "Partition_Limit", "INVALID", "NONE", "None",
            "Unknown", "0", "4294967294", "4294967295")
# MaxRSS that is no sample: SLURM's NO_VAL64 markers
NO_VAL_RSS = ("18446744073709551614", "18446744073709551615")

USER_RE = re.compile(r"[a-z0-9_][a-z0-9._-]*")

# powers of 1024 relative to bytes
UNIT_BYTES = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4,
              "P": 1024 ** 5}
MB = 1024 ** 2


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

def load_rows(path):
    """Read a .db file (or any `sacct -P` dump with a header) into dicts."""
    rows = []
    header = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line == "" or line.startswith("#"):
                continue
            if header is None:
                header = line.split("|")
                continue
            # the last column may be a free-text one containing '|'
            values = line.split("|", len(header) - 1)
            while len(values) < len(header):
                values.append("")
            rows.append(dict(zip(header, values)))
    return rows


# --------------------------------------------------------------------------
# small parsers
# --------------------------------------------------------------------------

def is_epoch(text):
    return text is not None and text.isdigit()


def size_to_mb(text, bare_unit_bytes):
    """'16000M' -> 16000.0, '2G' -> 2048.0, '1024K' -> 1.0.

    A bare number is multiplied by bare_unit_bytes (MB for memory requests,
    1 for RSS values, which sacct prints in bytes).
    """
    text = text.strip()
    if text == "":
        return 0.0
    unit = text[-1].upper()
    if unit in UNIT_BYTES:
        return float(text[:-1]) * UNIT_BYTES[unit] / MB
    return float(text) * bare_unit_bytes / MB


def tres_dict(text):
    """'cpu=4,mem=16000M,gres/gpu=2' -> {'cpu': '4', 'mem': '16000M', ...}"""
    result = {}
    for token in (text or "").split(","):
        if "=" in token:
            key, value = token.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def count_gpus(alloc_tres):
    tres = tres_dict(alloc_tres)
    if "gres/gpu" in tres:
        return int(tres["gres/gpu"])
    total = 0
    for key, value in tres.items():
        if key.startswith("gres/gpu:"):
            total += int(value)
    return total


def requested_mem_mb(job):
    """MB requested; SLURM's NO_VAL (ReqMem 18446744073709551616.00M: submitted while slurmdbd was down)
    means unknown and counts 0."""
    value = _requested_mem_mb(job)
    return 0.0 if value >= 2 ** 40 else value


def _requested_mem_mb(job):
    tres = tres_dict(job.get("ReqTRES", ""))
    if "mem" in tres:
        return size_to_mb(tres["mem"], MB)
    req = job.get("ReqMem", "").strip()
    if req == "":
        return 0.0
    if req[-1] in "cC":
        return size_to_mb(req[:-1], MB) * int(job.get("AllocCPUS") or 0)
    if req[-1] in "nN":
        return size_to_mb(req[:-1], MB) * int(job.get("NNodes") or 0)
    return size_to_mb(req, MB)


def step_rss_mb(step, rss_field, tres_field):
    value = step.get(rss_field, "").strip()
    if value != "":
        return size_to_mb(value, 1)
    tres = tres_dict(step.get(tres_field, ""))
    if "mem" in tres:
        return size_to_mb(tres["mem"], 1)
    return 0.0


def cpu_hours(text):
    """sacct's CPU time ([D-]HH:MM:SS, MM:SS.mmm, HH:MM:SS.mmm) in hours; None if it is not one."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.(\d+))?", text or "")
    if m is None:
        return None
    days, hours, minutes, seconds, frac = m.groups()
    if days is not None and hours is None:
        # 'D-MM:SS' is no sacct format; read D-HH:MM:SS only
        return None
    total = (int(days or 0) * 86400 + int(hours or 0) * 3600
             + int(minutes) * 60 + int(seconds))
    millis = int((frac or "").ljust(3, "0")[:3])
    return (total + millis / 1000.0) / 3600.0


def limit_hours(text):
    """TimelimitRaw (minutes) in hours; 0.0 for no finite limit (or junk)."""
    text = (text or "").strip()
    if text in NO_LIMIT or not text.isdigit():
        return 0.0
    return int(text) / 60.0


def wait_hours(job, start):
    """Start - Eligible (Start - Submit if Eligible is no time), >= 0."""
    eligible = job.get("Eligible", "")
    since = job.get("Submit", "")
    if eligible.isdigit() and eligible != "0":
        since = eligible
    if not since.isdigit():
        return 0.0
    return max(0, int(start) - int(since)) / 3600.0


def step_memory(step):
    """(sampled, used MB) of one step: TRESUsageInTot mem= (as seff), else MaxRSS."""
    rss = step.get("MaxRSS", "").strip()
    tot = tres_dict(step.get("TRESUsageInTot", "")).get("mem", "")
    rss_sampled = rss != "" and rss not in NO_VAL_RSS
    if tot not in ("", "NONE"):
        return True, size_to_mb(tot, 1)
    if rss_sampled:
        return True, size_to_mb(rss, 1)
    return False, 0.0


def step_gpu_util(step):
    """gres/gpuutil of a step's TRESUsageInTot (percent summed over its GPUs), or None."""
    value = tres_dict(step.get("TRESUsageInTot", "")).get("gres/gpuutil", "")
    return int(value) if value.isdigit() else None


def group_name(text, lower):
    text = text or ""
    if text == "":
        return NO_GROUP
    return text.lower() if lower else text


def clean_user(raw):
    """Lower-case, strip '@...'; None if the result is not a valid name."""
    user = (raw or "").lower().split("@", 1)[0]
    if USER_RE.fullmatch(user):
        return user
    return None


def utc_date(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).date()


# --------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------

def group_jobs(rows):
    """[(job_row, [step_rows])] in input order; (JobIDRaw, Submit) dedup."""
    by_identity = {}
    order = []
    latest_by_raw = {}
    for row in rows:
        raw = row.get("JobIDRaw", "")
        if "." in raw:
            parent = raw.split(".", 1)[0]
            if parent in latest_by_raw:
                latest_by_raw[parent]["steps"].append(row)
            continue
        identity = (raw, row.get("Submit", ""))
        if identity not in by_identity:
            entry = {"job": row, "steps": []}
            by_identity[identity] = entry
            order.append(entry)
        # a repeated identity keeps the first job line; its steps are added
        # to the same entry (max() over duplicates changes nothing)
        latest_by_raw[raw] = by_identity[identity]
    return [(e["job"], e["steps"]) for e in order]


def jobs(rows, failure_states=DEFAULT, count_cancelled=False, optout=()):
    """The counted jobs, each a dict with user, month, day and the values."""
    failing = set(failure_states)
    if count_cancelled:
        failing.add("CANCELLED")
    else:
        failing.discard("CANCELLED")
    optout = set(u.lower() for u in optout)

    result = []
    for job, steps in group_jobs(rows):
        start = job.get("Start", "")
        if start in ("Unknown", "None", "", "0") or not is_epoch(start):
            continue
        end = job.get("End", "")
        if not is_epoch(end):
            continue
        user = clean_user(job.get("User", ""))
        if user is None or user in optout:
            continue

        try:  # a job line whose numbers cannot be read counts nowhere
            elapsed_h = int(job.get("ElapsedRaw") or 0) / 3600.0
            cpus = int(job.get("AllocCPUS") or 0)
            gpus = count_gpus(job.get("AllocTRES", ""))
            req_mem = requested_mem_mb(job)
        except ValueError:
            continue
        account = group_name(job.get("Account"), lower=True)
        partition = group_name(job.get("Partition"), lower=False)
        if not all(n.isprintable() and len(n) <= 128 for n in (account, partition)):
            continue   # a control character or 128+ characters: damage, not a group
        max_mem = 0.0
        avg_mem = 0.0
        used_mem = 0.0
        mem_seen = False
        busy = None
        step_cpu = 0.0
        for step in steps:
            try:  # an unreadable step line adds nothing; its job still counts
                step_max = step_rss_mb(step, "MaxRSS", "TRESUsageInMax")
                step_avg = step_rss_mb(step, "AveRSS", "TRESUsageInAve")
                sampled, used = step_memory(step)
                util = step_gpu_util(step)
            except ValueError:
                continue
            max_mem = max(max_mem, step_max)
            avg_mem = max(avg_mem, step_avg)
            if sampled:
                mem_seen = True
                used_mem = max(used_mem, used)
            if util is not None:
                busy = util if busy is None else max(busy, util)
            step_cpu += cpu_hours(step.get("TotalCPU", "")) or 0.0
        total_cpu = job.get("TotalCPU", "")
        if total_cpu == "":
            cpu_used = step_cpu
        else:  # an unreadable TotalCPU counts as none used (and is logged)
            cpu_used = cpu_hours(total_cpu) or 0.0
        limit_h = limit_hours(job.get("TimelimitRaw", ""))
        mem_sampled = mem_seen and req_mem > 0
        gpu_sampled = gpus > 0 and busy is not None
        state = job.get("State", "").split(" ")[0]
        end_date = utc_date(end)
        result.append({
            "account": account,
            "partition": partition,
            "cpu_used_h": cpu_used,
            "timelimit_h": limit_h,
            "limited_elapsed_h": elapsed_h if limit_h else 0.0,
            "wait_h": wait_hours(job, start),
            "mem_sampled": mem_sampled,
            "req_mem_mb_h": req_mem * elapsed_h if mem_sampled else 0.0,
            "used_mem_mb_h": used_mem * elapsed_h if mem_sampled else 0.0,
            "gpu_sampled": gpu_sampled,
            "gpu_sampled_h": gpus * elapsed_h if gpu_sampled else 0.0,
            "gpu_busy_h": busy / 100.0 * elapsed_h if gpu_sampled else 0.0,
            "jobidraw": job.get("JobIDRaw"),
            "user": user,
            "month": end_date.strftime("%Y-%m"),
            "day": end_date,
            "elapsed_h": elapsed_h,
            "clock_h": cpus * elapsed_h,
            "gpus": gpus,
            "gpu_job": gpus > 0,
            "gpu_elapsed_h": elapsed_h if gpus > 0 else 0.0,
            "gpu_clock_h": gpus * elapsed_h,
            "req_mem_mb": req_mem,
            "avg_mem_mb": avg_mem,
            "max_mem_mb": max_mem,
            "failed": state in failing,
        })
    return result


def empty_metrics():
    return {"jobs": 0, "gpu_jobs": 0, "failed_jobs": 0,
            "elapsed_hours": 0.0, "clock_hours": 0.0,
            "gpu_elapsed_hours": 0.0, "gpu_clock_hours": 0.0,
            "sum_req_mem_mb": 0.0, "sum_avg_mem_mb": 0.0,
            "sum_max_mem_mb": 0.0}


def add_job(m, j):
    m["jobs"] += 1
    m["gpu_jobs"] += 1 if j["gpu_job"] else 0
    m["failed_jobs"] += 1 if j["failed"] else 0
    m["elapsed_hours"] += j["elapsed_h"]
    m["clock_hours"] += j["clock_h"]
    m["gpu_elapsed_hours"] += j["gpu_elapsed_h"]
    m["gpu_clock_hours"] += j["gpu_clock_h"]
    m["sum_req_mem_mb"] += j["req_mem_mb"]
    m["sum_avg_mem_mb"] += j["avg_mem_mb"]
    m["sum_max_mem_mb"] += j["max_mem_mb"]


def add_job_v2(m, j):
    """add_job plus the collector-v2 sums."""
    add_job(m, j)
    m["cpu_used_hours"] += j["cpu_used_h"]
    m["timelimit_hours"] += j["timelimit_h"]
    m["limited_elapsed_hours"] += j["limited_elapsed_h"]
    m["wait_hours"] += j["wait_h"]
    m["mem_sampled_jobs"] += 1 if j["mem_sampled"] else 0
    m["req_mem_mb_hours"] += j["req_mem_mb_h"]
    m["used_mem_mb_hours"] += j["used_mem_mb_h"]
    m["gpu_sampled_jobs"] += 1 if j["gpu_sampled"] else 0
    m["gpu_sampled_hours"] += j["gpu_sampled_h"]
    m["gpu_busy_hours"] += j["gpu_busy_h"]


def empty_v2():
    m = empty_metrics()
    for name in V2_METRICS:
        m[name] = 0 if name.endswith("_jobs") else 0.0
    return m


def ratio(part, whole):
    return part / whole if whole else None


def derive(m):
    """Add the ratios and wastes of issue 11 to a v2 metrics dict; returns it."""
    m["cpu_efficiency"] = ratio(m["cpu_used_hours"], m["clock_hours"])
    m["mem_efficiency"] = ratio(m["used_mem_mb_hours"], m["req_mem_mb_hours"])
    m["time_efficiency"] = ratio(m["limited_elapsed_hours"],
                                 m["timelimit_hours"])
    m["gpu_efficiency"] = ratio(m["gpu_busy_hours"], m["gpu_sampled_hours"])
    m["cpu_wasted_hours"] = max(0.0, m["clock_hours"] - m["cpu_used_hours"])
    m["mem_wasted_gb_hours"] = max(
        0.0, m["req_mem_mb_hours"] - m["used_mem_mb_hours"]) / 1024.0
    m["avg_wait_hours"] = ratio(m["wait_hours"], m["jobs"])
    return m


def _in_window(j, first_day, last_day):
    if first_day is not None and j["day"] < as_date(first_day):
        return False
    return last_day is None or j["day"] <= as_date(last_day)


def group_totals(rows, by="user", first_day=None, last_day=None, monthly=False,
                 failure_states=DEFAULT, count_cancelled=False, optout=()):
    """Every metric (v1, v2, derived) per user, account or partition (`by`),
    of the jobs whose End's UTC day is in [first_day, last_day] (None: open);
    keyed (name, month) with monthly."""
    totals = {}
    for j in jobs(rows, failure_states, count_cancelled, optout):
        if _in_window(j, first_day, last_day):
            key = (j[by], j["month"]) if monthly else j[by]
            add_job_v2(totals.setdefault(key, empty_v2()), j)
    return {key: derive(m) for key, m in totals.items()}


def group_users(rows, by, first_day=None, last_day=None,
                failure_states=DEFAULT, count_cancelled=False, optout=()):
    """{account or partition: the set of users with a job in the window}."""
    members = {}
    for j in jobs(rows, failure_states, count_cancelled, optout):
        if _in_window(j, first_day, last_day):
            members.setdefault(j[by], set()).add(j["user"])
    return members


def sum_totals(many):
    """Totals of several clusters summed by name (the ALL view), re-derived."""
    merged = {}
    for totals in many:
        for name, m in totals.items():
            target = merged.setdefault(name, empty_v2())
            for metric in METRICS + V2_METRICS:
                target[metric] += m[metric]
    return {name: derive(m) for name, m in merged.items()}


# --------------------------------------------------------------------------
# totals
# --------------------------------------------------------------------------

def monthly_totals(rows, failure_states=DEFAULT, count_cancelled=False,
                   optout=()):
    totals = {}
    for j in jobs(rows, failure_states, count_cancelled, optout):
        key = (j["user"], j["month"])
        if key not in totals:
            totals[key] = empty_metrics()
        add_job(totals[key], j)
    return totals


def alltime_totals(rows, failure_states=DEFAULT, count_cancelled=False,
                   optout=()):
    totals = {}
    for j in jobs(rows, failure_states, count_cancelled, optout):
        if j["user"] not in totals:
            totals[j["user"]] = empty_metrics()
        add_job(totals[j["user"]], j)
    return totals


def as_date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.datetime.strptime(value, "%Y-%m-%d").date()


def window_totals(rows, first_day, last_day, failure_states=DEFAULT,
                  count_cancelled=False, optout=()):
    """Totals of jobs whose End's UTC day is in [first_day, last_day]."""
    first = as_date(first_day)
    last = as_date(last_day)
    totals = {}
    for j in jobs(rows, failure_states, count_cancelled, optout):
        if first <= j["day"] <= last:
            if j["user"] not in totals:
                totals[j["user"]] = empty_metrics()
            add_job(totals[j["user"]], j)
    return totals


def ranks(totals, metric, min_jobs=3):
    """[(rank, user, value)]: highest value first, ties ordered by user name.

    Only users with at least min_jobs jobs.  Ranks are positions 1, 2, 3, ...
    (a tie does not share a rank; the user name decides).
    """
    eligible = [(user, m[metric]) for user, m in totals.items()
                if m["jobs"] >= min_jobs]
    eligible.sort(key=lambda pair: (-pair[1], pair[0]))
    return [(i + 1, user, value) for i, (user, value) in enumerate(eligible)]


def nest_monthly(monthly):
    """{(user, month): m} -> {month: {user: m}} (the expected.json shape)."""
    nested = {}
    for (user, month), m in monthly.items():
        nested.setdefault(month, {})[user] = m
    return nested


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db")
    parser.add_argument("--count-cancelled", action="store_true")
    parser.add_argument("--optout", default="",
                        help="comma-separated user names to exclude")
    args = parser.parse_args(argv)
    optout = [u for u in args.optout.split(",") if u]
    monthly = monthly_totals(load_rows(args.db),
                             count_cancelled=args.count_cancelled,
                             optout=optout)
    json.dump(nest_monthly(monthly), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

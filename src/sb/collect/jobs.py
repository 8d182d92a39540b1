"""Stage 3, sacct lines → job records: fold step lines into their job, report every line that cannot count.

Lines come in one canonical field order, JobIDRaw and the step fields first (memory, CPU time, GPU usage),
so a step line (the bulk of sacct's output) costs a prefix test, a delimiter count and a 6-way split.
"""
import zlib
from typing import NamedTuple, Optional

from sb.collect.parse import (BadField, NOT_STARTED, cpu_time_ms, gpu_count, gpu_util, req_mem_bytes, rss_bytes,
                              state_word, time_limit_s, tres_memory_bytes, tres_value, whole)
from sb.compat import isascii
from sb.config import DEFAULT_FAILURE_STATES
from sb.names import normalize_user

# The fields the collector asks sacct for, in this order: first those a step line is read for, then the
# job's own. Free-text fields (JobName, WorkDir, SubmitLine) are never requested: they can hold the
# delimiter or newlines, and we store no job names.
STEP_FIELDS = ("JobIDRaw", "MaxRSS", "AveRSS", "TotalCPU", "TRESUsageInTot")
FIELDS = STEP_FIELDS + ("User", "State", "ElapsedRaw", "AllocCPUS", "NNodes", "ReqMem", "ReqTRES", "AllocTRES",
                        "Submit", "Start", "End", "Account", "Partition", "TimelimitRaw", "Eligible")
WIDTH = len(FIELDS)
# A step's TRESUsageInTot: its tasks' summed usage at their last sample. Its mem= is the step's memory for
# efficiency (as seff reads it); its gres/gpuutil (Slurm >= 23.02 with gpu/nvml or gpu/rsmi) is the SM
# utilisation in percent summed over each task's GPUs (nvml sums them from 24.05.1), so 400 on 4 busy GPUs.
STEP_USAGE = "TRESUsageInTot"
# A sacct without MaxRSS/AveRSS (none seen since 18.08) is asked for these in their place; their mem= is
# what MaxRSS/AveRSS are printed from anyway. Asking for them as well would double the bytes per step.
MEMORY_FALLBACK = {"MaxRSS": "TRESUsageInMax", "AveRSS": "TRESUsageInAve"}
# Fields a sacct may lack without stopping the count: asked as JobIDRaw in their place, which holds no
# sample (a sacct older than 17.11 has no TRES usage: memory then comes from MaxRSS, and no GPU figure).
OPTIONAL = (STEP_USAGE,)
EXAMPLES_KEPT = 20
# Bounds of a real job. Past them a field is damaged or one of SLURM's NO_VAL/INFINITE markers (0xfffffffe,
# 0xffffffff, 0xfffffffffffffffe): the line is malformed, counted and logged, and the run goes on.
MAX_ELAPSED = 20 * 366 * 86400     # 20 years
MAX_CPUS = 1 << 24
MAX_NODES = 1 << 20
MAX_EPOCH = (1 << 32) - 1
MAX_STEP_BYTES = 1 << 50           # 1 PiB of RSS on one step
MAX_NAME = 128                     # an account or partition name longer than this is damage
NO_VALS = frozenset(("4294967294", "4294967295", "18446744073709551614", "18446744073709551615"))
NONE = "(none)"                    # the account or partition of a job that has none


class Job(NamedTuple):
    """One allocation (one run of it), with its steps folded in. Units: seconds, bytes, CPU-milliseconds."""
    key: int        # JobIDRaw << 32 | Submit epoch: the dedupe identity within a cluster
    user: str
    account: str    # lower-cased; "(none)" when empty
    partition: str  # as printed; "(none)" when empty
    end: int        # epoch; decides the UTC day and month the job counts in
    elapsed: int
    cpus: int
    gpus: int
    req_bytes: int
    failed: bool
    limit: int      # TimelimitRaw in seconds; 0 when the job has no finite limit
    wait: int       # Start - Eligible (or - Submit), never below 0
    cpu_ms: int     # TotalCPU of the job line, else summed over its steps
    max_bytes: int  # max over steps of MaxRSS
    avg_bytes: int  # max over steps of AveRSS
    used_bytes: int  # max over steps of the step's memory (TRESUsageInTot mem=, else MaxRSS): for efficiency
    mem_sampled: bool           # a memory request and at least one step with a memory sample
    gpu_busy: Optional[int]     # max over steps of gres/gpuutil (percent); None when no step has a sample


class LineReport:
    """Counts of lines that did not become jobs, by reason, with a few examples for the log."""

    def __init__(self):
        self.counts = {}
        self.examples = []         # "line N: why", the first EXAMPLES_KEPT of them
        self.example_marks = []    # each example's line fingerprint (None for no line)
        self.fingerprints = {}     # reason → crc32s of its unreadable lines: a line re-read is reported once

    def add(self, reason, line_no=None, detail="", line=None):
        self.counts[reason] = self.counts.get(reason, 0) + 1
        mark = None if line is None else zlib.crc32(line.encode("utf-8", "surrogateescape")) & 0xFFFFFFFF
        if mark is not None:
            self.fingerprints.setdefault(reason, set()).add(mark)
        if detail and len(self.examples) < EXAMPLES_KEPT:
            self.examples.append("line {}: {}".format(line_no, detail))
            self.example_marks.append(mark)

    def get(self, reason):
        return self.counts.get(reason, 0)

    def total(self):
        return sum(self.counts.values())


def fold_jobs(lines, delimiter, report, failure_states=DEFAULT_FAILURE_STATES, tres_memory=False, latest_end=None):
    """Yield a Job per allocation line, after folding in the step lines that follow it.

    `lines` hold FIELDS in order (with `tres_memory`, TRES usage strings stand in the memory fields).
    Never raises on content: every line that cannot count is tallied in `report` under a reason
    (malformed, orphan_step, not_started, not_ended, cut_off), so nothing vanishes silently; a field that
    cannot be read but is not needed to count the job (a time limit, a CPU time) is tallied as odd_field.
    A last line without its newline was cut off: it and the job it belongs to never count. An End past
    `latest_end` (now plus clock skew) is malformed.
    """
    parse = _JobParser(frozenset(failure_states), latest_end or MAX_EPOCH)
    line = ""
    seps = WIDTH - 1
    prefix, job = None, None  # "<JobIDRaw>." of the open job; its fields (a list), None if it does not count
    # the open job's step figures, kept in locals: this loop runs once per line
    max_b = avg_b = used_b = cpu_ms = 0
    sampled, busy, need_cpu = False, None, False
    for line_no, line in enumerate(lines, 1):
        if prefix is not None and line.startswith(prefix):  # a step of the open job
            if line.count(delimiter) != seps:
                report.add("malformed", line_no, "expected {} fields, found {}".format(
                    WIDTH, line.count(delimiter) + 1), line)
            elif job is not None:
                _, max_text, ave_text, cpu_text, usage, _ = line.split(delimiter, 5)
                try:
                    # the common step inline (plain byte counts, a plain mem= after the first token), any
                    # other in _step_memory: this runs for every step line, 4 of the 5 lines sacct prints
                    at = usage.find(",mem=") + 5           # 4 when there is none
                    end = usage.find(",", at) if at > 4 else -1
                    if (end > 0 and max_text.isdecimal() and ave_text.isdecimal() and usage[at:end].isdecimal()
                            and not tres_memory and not usage.startswith("mem=")):
                        step_max, step_avg, step_used, step_sampled = (int(max_text), int(ave_text),
                                                                       int(usage[at:end]), True)
                    else:
                        step_max = MAX_STEP_BYTES + 1   # read by _step_memory below
                    if step_max > MAX_STEP_BYTES or step_avg > MAX_STEP_BYTES or step_used > MAX_STEP_BYTES:
                        step_max, step_avg, step_used, step_sampled = _step_memory(max_text, ave_text, usage,
                                                                                   tres_memory)
                    if need_cpu:
                        cpu_ms += cpu_time_ms(cpu_text)
                    step_busy = gpu_util(usage) if "gres/gpuutil=" in usage else None
                except (BadField, ValueError) as err:
                    report.add("malformed", line_no, str(err), line)
                    continue
                if step_max > max_b:
                    max_b = step_max
                if step_avg > avg_b:
                    avg_b = step_avg
                if step_used > used_b:
                    used_b = step_used
                if step_sampled:
                    sampled = True
                if step_busy is not None and (busy is None or step_busy > busy):
                    busy = step_busy
            continue
        parts = line.split(delimiter)
        if len(parts) != WIDTH:
            if line.strip():
                report.add("malformed", line_no, "expected {} fields, found {}".format(WIDTH, len(parts)), line)
            continue
        if "." in parts[0]:
            report.add("orphan_step", line_no, "step {} without its job line".format(parts[0][:40]), line)
            continue
        if job is not None:
            yield _with_steps(job, max_b, avg_b, used_b, sampled, busy, cpu_ms if need_cpu else None)
        prefix = parts[0] + "."
        job = parse(parts, report, line_no, line)
        max_b = avg_b = used_b = cpu_ms = 0
        sampled, busy, need_cpu = False, None, job is not None and job[12] is None
    if line and not line.endswith("\n"):   # the output stopped mid-line: its job is incomplete
        report.add("cut_off", line_no, "the last line has no newline (output cut off): its job is not counted",
                   line)
        return
    if job is not None:
        yield _with_steps(job, max_b, avg_b, used_b, sampled, busy, cpu_ms if need_cpu else None)


def _step_memory(max_text, ave_text, usage, tres_memory):
    """A step's (MaxRSS, AveRSS, memory for efficiency, whether it has a memory sample), in bytes: the
    memory for efficiency is TRESUsageInTot mem= (the step's tasks summed), else MaxRSS."""
    if tres_memory:
        max_text, ave_text = tres_value(max_text, "mem=") or "", tres_value(ave_text, "mem=") or ""
    step_max = int(max_text) if max_text.isdecimal() else rss_bytes(max_text, "MaxRSS")
    step_avg = int(ave_text) if ave_text.isdecimal() else rss_bytes(ave_text, "AveRSS")
    sampled = bool(max_text)
    if step_max > MAX_STEP_BYTES or step_avg > MAX_STEP_BYTES:
        step_max, step_avg = _bounded_memory(max_text, step_max), _bounded_memory(ave_text, step_avg)
        sampled = max_text not in NO_VALS
    if "mem=" in usage:
        total = tres_memory_bytes(usage)
        if total is not None:
            return step_max, step_avg, _bounded_memory(str(total), total), True
    return step_max, step_avg, step_max, sampled


def _with_steps(job, max_b, avg_b, used_b, sampled, busy, cpu_ms):
    """The Job made of the job line's fields (a list) and its steps' figures."""
    if cpu_ms is not None:      # the job line had no TotalCPU: its steps' sum
        job[12] = cpu_ms
    job[13], job[14], job[15] = max_b, avg_b, used_b
    job[16] = sampled and job[8] > 0
    job[17] = busy if job[7] else None
    return Job._make(job)


def _bounded_memory(text, size):
    """A step's memory past MAX_STEP_BYTES: NO_VAL is no sample (0); anything else is damage."""
    if size <= MAX_STEP_BYTES:
        return size
    if text in NO_VALS:
        return 0
    raise BadField("MaxRSS", text, "implausible memory size")


class _JobParser:
    """Allocation line → Job fields (a list), with caches for the few distinct users, accounts, partitions,
    states and memory requests a cluster has; None when the job must not count (reported)."""

    def __init__(self, failure_states, latest_end):
        self.failure_states = failure_states
        self.latest_end = latest_end
        self.users, self.failed, self.requests, self.groups = {}, {}, {}, {}

    def __call__(self, parts, report, line_no, line=None):
        (raw_id, _, _, total_cpu, _, raw_user, state, elapsed, cpus, nodes, req_mem, req_tres, alloc_tres,
         submit, start, end, account, partition, limit, eligible) = parts
        eligible = eligible.rstrip("\r\n")
        if start in NOT_STARTED:
            report.add("not_started")
            return None
        if end in NOT_STARTED:
            report.add("not_ended")
            return None
        try:
            if not (raw_id.isdecimal() and submit.isdecimal() and end.isdecimal() and start.isdecimal()
                    and elapsed.isdecimal() and cpus.isdecimal() and nodes.isdecimal()):
                _check_numbers(parts)  # raises BadField naming the field
            if not isascii(raw_id + submit + end + start + elapsed + cpus + nodes):
                raise BadField("JobIDRaw", raw_id, "a number field has non-ASCII digits")
            job_id, submit, cpus = int(raw_id), int(submit), int(cpus)
            if job_id >= 1 << 32 or submit >= 1 << 32:
                raise BadField("JobIDRaw", raw_id, "id or Submit out of range")
            _bounded(elapsed, cpus, nodes, start, end, self.latest_end)
            user = self.users.get(raw_user)
            if user is None:
                user = self.users[raw_user] = normalize_user(raw_user)
            group = self.groups.get((account, partition))
            if group is None:
                group = self.groups[account, partition] = _group(account, partition)
            failed = self.failed.get(state)
            if failed is None:
                failed = self.failed[state] = state_word(state) in self.failure_states
            elapsed, start = int(elapsed), int(start)
            return [job_id << 32 | submit, user, group[0], group[1], int(end), elapsed, cpus, gpu_count(alloc_tres),
                    self._requested(req_mem, req_tres, cpus, int(nodes)), failed,
                    _limit(limit, report, line_no, line), _wait(eligible, submit, start, report, line_no, line),
                    _total_cpu(total_cpu, report, line_no, line), 0, 0, 0, False, None]
        except (BadField, ValueError) as err:
            report.add("malformed", line_no, str(err), line)
            return None

    def _requested(self, req_mem, req_tres, cpus, nodes):
        """req_mem_bytes, with the parse of each distinct (ReqMem, ReqTRES) pair done once."""
        key = (req_mem, req_tres, cpus, nodes)
        size = self.requests.get(key)
        if size is None:
            size = self.requests[key] = req_mem_bytes(req_mem, req_tres, cpus, nodes)
        return size


def _group(account, partition):
    """(account, partition) as stored: the account lower-cased, either "(none)" when empty."""
    for field, name in (("Account", account), ("Partition", partition)):
        if len(name) > MAX_NAME or not name.isprintable():
            raise BadField(field, name[:40], "not a name (too long or control characters)")
    return account.lower() or NONE, partition or NONE


def _limit(text, report, line_no, line):
    try:
        return time_limit_s(text) or 0
    except BadField as err:
        report.add("odd_field", line_no, "{}; the job counts without a time limit".format(err), line)
        return 0


def _wait(eligible, submit, start, report, line_no, line):
    """Start - Eligible, or Start - Submit when Eligible is unknown (Unknown, None, 0, empty); never below 0."""
    if eligible.isdecimal() and isascii(eligible) and eligible != "0":
        since = int(eligible)
    else:
        if eligible not in NOT_STARTED:
            report.add("odd_field", line_no, "Eligible {!r} is not a time; the wait is counted from Submit".format(
                eligible[:40]), line)
        since = submit
    return max(0, start - since)


def _total_cpu(text, report, line_no, line):
    """The job line's TotalCPU in ms; None when it is empty (the steps' are summed instead)."""
    if not text:
        return None
    try:
        return cpu_time_ms(text)
    except BadField as err:
        report.add("odd_field", line_no, "{}; the job counts with no CPU time used".format(err), line)
        return 0


def _bounded(elapsed, cpus, nodes, start, end, latest_end):
    """BadField unless the job's numbers are those of a real job (see MAX_*)."""
    if len(elapsed) > 10 or int(elapsed) > MAX_ELAPSED:
        raise BadField("ElapsedRaw", elapsed, "implausible (NO_VAL or damage)")
    if cpus > MAX_CPUS:
        raise BadField("AllocCPUS", str(cpus), "implausible (NO_VAL or damage)")
    if len(nodes) > 7 or int(nodes) > MAX_NODES:
        raise BadField("NNodes", nodes, "implausible (NO_VAL or damage)")
    if len(end) > 10 or int(end) > latest_end:
        raise BadField("End", end, "in the future (or damaged)")
    if int(start) > int(end):
        raise BadField("End", end, "before Start")


def _check_numbers(parts):
    for name in ("JobIDRaw", "ElapsedRaw", "AllocCPUS", "NNodes", "Submit", "Start", "End"):
        whole(parts[FIELDS.index(name)], name)

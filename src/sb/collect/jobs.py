"""Stage 3, sacct lines → job records: fold step lines into their job, report every line that cannot count.

Lines come in one canonical field order, JobIDRaw and the two memory fields first, so a step line
(the bulk of sacct's output) costs a prefix test, a delimiter count and a 4-way split.
"""
import zlib
from typing import NamedTuple

from sb.collect.parse import (BadField, NOT_STARTED, gpu_count, req_mem_kib, rss_kib, state_word, tres_value,
                              whole)
from sb.compat import isascii
from sb.config import DEFAULT_FAILURE_STATES
from sb.names import normalize_user

# The fields the collector asks sacct for, in this order. Free-text fields (JobName, WorkDir, SubmitLine)
# are never requested: they can hold the delimiter or newlines, and we store no job names.
FIELDS = ("JobIDRaw", "MaxRSS", "AveRSS", "User", "State", "ElapsedRaw", "AllocCPUS", "NNodes", "ReqMem",
          "ReqTRES", "AllocTRES", "Submit", "Start", "End")
WIDTH = len(FIELDS)
# A sacct without MaxRSS/AveRSS (none seen since 18.08) is asked for these in their place; their mem= is
# what MaxRSS/AveRSS are printed from anyway. Asking for them as well would double the bytes per step.
MEMORY_FALLBACK = {"MaxRSS": "TRESUsageInMax", "AveRSS": "TRESUsageInAve"}
EXAMPLES_KEPT = 20
# Bounds of a real job. Past them a field is damaged or one of SLURM's NO_VAL/INFINITE markers (0xfffffffe,
# 0xffffffff, 0xfffffffffffffffe): the line is malformed, counted and logged, and the run goes on.
MAX_ELAPSED = 20 * 366 * 86400     # 20 years
MAX_CPUS = 1 << 24
MAX_NODES = 1 << 20
MAX_EPOCH = (1 << 32) - 1
MAX_STEP_KIB = 1 << 40             # 1 PiB of RSS on one step
NO_VALS = frozenset(("4294967294", "4294967295", "18446744073709551614", "18446744073709551615"))


class Job(NamedTuple):
    """One allocation (one run of it), with its steps folded in. Units: seconds, KiB."""
    key: int        # JobIDRaw << 32 | Submit epoch: the dedupe identity within a cluster
    user: str
    end: int        # epoch; decides the UTC day and month the job counts in
    elapsed: int
    cpus: int
    gpus: int
    req_kib: int
    failed: bool
    max_kib: int    # max over steps of MaxRSS
    avg_kib: int    # max over steps of AveRSS


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
    (malformed, orphan_step, not_started, not_ended, cut_off), so nothing vanishes silently. A last line
    without its newline was cut off: it and the job it belongs to never count. An End past `latest_end`
    (now plus clock skew) is malformed.
    """
    parse = _JobParser(frozenset(failure_states), latest_end or MAX_EPOCH)
    line = ""
    seps = WIDTH - 1
    prefix, job = None, None  # "<JobIDRaw>." of the open job; its fields (a list), None if it does not count
    max_kib = avg_kib = 0     # the open job's step maxima, kept in locals: this loop runs once per line
    for line_no, line in enumerate(lines, 1):
        if prefix is not None and line.startswith(prefix):  # a step of the open job
            if line.count(delimiter) != seps:
                report.add("malformed", line_no, "expected {} fields, found {}".format(
                    WIDTH, line.count(delimiter) + 1), line)
            elif job is not None:
                _, max_text, ave_text, _ = line.split(delimiter, 3)
                try:
                    if tres_memory:
                        max_text, ave_text = tres_value(max_text, "mem=") or "", tres_value(ave_text, "mem=") or ""
                    step_max = (int(max_text) + 512) >> 10 if max_text.isdecimal() else rss_kib(max_text, "MaxRSS")
                    step_avg = (int(ave_text) + 512) >> 10 if ave_text.isdecimal() else rss_kib(ave_text, "AveRSS")
                    if step_max > MAX_STEP_KIB or step_avg > MAX_STEP_KIB:
                        step_max, step_avg = _bounded_memory(max_text, step_max), _bounded_memory(ave_text, step_avg)
                except (BadField, ValueError) as err:
                    report.add("malformed", line_no, str(err), line)
                    continue
                if step_max > max_kib:
                    max_kib = step_max
                if step_avg > avg_kib:
                    avg_kib = step_avg
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
            job[8], job[9] = max_kib, avg_kib
            yield Job._make(job)
        prefix = parts[0] + "."
        job = parse(parts, report, line_no, line)
        max_kib = avg_kib = 0
    if line and not line.endswith("\n"):   # the output stopped mid-line: its job is incomplete
        report.add("cut_off", line_no, "the last line has no newline (output cut off): its job is not counted",
                   line)
        return
    if job is not None:
        job[8], job[9] = max_kib, avg_kib
        yield Job._make(job)


def _bounded_memory(text, kib):
    """A step's memory past MAX_STEP_KIB: NO_VAL is no sample (0); anything else is damage."""
    if kib <= MAX_STEP_KIB:
        return kib
    if text in NO_VALS:
        return 0
    raise BadField("MaxRSS", text, "implausible memory size")


class _JobParser:
    """Allocation line → Job fields (a list), with caches for the few distinct users, states and
    memory requests a cluster has; None when the job must not count (reported)."""

    def __init__(self, failure_states, latest_end):
        self.failure_states = failure_states
        self.latest_end = latest_end
        self.users, self.failed, self.requests = {}, {}, {}

    def __call__(self, parts, report, line_no, line=None):
        raw_id, _, _, raw_user, state, elapsed, cpus, nodes, req_mem, req_tres, alloc_tres, submit, start, end = parts
        end = end.rstrip("\r\n")
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
            failed = self.failed.get(state)
            if failed is None:
                failed = self.failed[state] = state_word(state) in self.failure_states
            elapsed = int(elapsed)
            return [job_id << 32 | submit, user, int(end), elapsed, cpus, gpu_count(alloc_tres),
                    self._requested(req_mem, req_tres, cpus, int(nodes)), failed, 0, 0]
        except (BadField, ValueError) as err:
            report.add("malformed", line_no, str(err), line)
            return None

    def _requested(self, req_mem, req_tres, cpus, nodes):
        """req_mem_kib, with the parse of each distinct (ReqMem, ReqTRES) pair done once."""
        key = (req_mem, req_tres, cpus, nodes)
        kib = self.requests.get(key)
        if kib is None:
            kib = self.requests[key] = req_mem_kib(req_mem, req_tres, cpus, nodes)
        return kib


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
    for name, index in (("JobIDRaw", 0), ("ElapsedRaw", 5), ("AllocCPUS", 6), ("NNodes", 7), ("Submit", 11),
                        ("Start", 12), ("End", 13)):
        whole(parts[index].rstrip("\r\n"), name)

"""Stage 3, sacct lines → job records: fold step lines into their job, report every line that cannot count.

Lines come in one canonical field order, JobIDRaw and the two memory fields first, so a step line
(the bulk of sacct's output) costs a prefix test, a delimiter count and a 4-way split.
"""
from typing import NamedTuple

from sb.collect.parse import (BadField, NOT_STARTED, gpu_count, req_mem_kib, rss_kib, state_word, tres_value,
                              whole)
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
        self.examples = []

    def add(self, reason, line_no=None, detail=""):
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if detail and len(self.examples) < EXAMPLES_KEPT:
            self.examples.append("line {}: {}".format(line_no, detail))

    def get(self, reason):
        return self.counts.get(reason, 0)

    def total(self):
        return sum(self.counts.values())


def fold_jobs(lines, delimiter, report, failure_states=DEFAULT_FAILURE_STATES, tres_memory=False):
    """Yield a Job per allocation line, after folding in the step lines that follow it.

    `lines` hold FIELDS in order (with `tres_memory`, TRES usage strings stand in the memory fields).
    Never raises on content: every line that cannot count is tallied in `report` under a reason
    (malformed, orphan_step, not_started, not_ended), so nothing vanishes silently.
    """
    parse = _JobParser(frozenset(failure_states))
    seps = WIDTH - 1
    prefix, job = None, None  # "<JobIDRaw>." of the open job; its fields (a list), None if it does not count
    max_kib = avg_kib = 0     # the open job's step maxima, kept in locals: this loop runs once per line
    for line_no, line in enumerate(lines, 1):
        if prefix is not None and line.startswith(prefix):  # a step of the open job
            if line.count(delimiter) != seps:
                report.add("malformed", line_no, "expected {} fields, found {}".format(
                    WIDTH, line.count(delimiter) + 1))
            elif job is not None:
                _, max_text, ave_text, _ = line.split(delimiter, 3)
                try:
                    if tres_memory:
                        max_text, ave_text = tres_value(max_text, "mem=") or "", tres_value(ave_text, "mem=") or ""
                    step_max = (int(max_text) + 512) >> 10 if max_text.isdecimal() else rss_kib(max_text, "MaxRSS")
                    step_avg = (int(ave_text) + 512) >> 10 if ave_text.isdecimal() else rss_kib(ave_text, "AveRSS")
                except (BadField, ValueError) as err:
                    report.add("malformed", line_no, str(err))
                    continue
                if step_max > max_kib:
                    max_kib = step_max
                if step_avg > avg_kib:
                    avg_kib = step_avg
            continue
        parts = line.split(delimiter)
        if len(parts) != WIDTH:
            if line.strip():
                report.add("malformed", line_no, "expected {} fields, found {}".format(WIDTH, len(parts)))
            continue
        if "." in parts[0]:
            report.add("orphan_step", line_no, "step {} without its job line".format(parts[0][:40]))
            continue
        if job is not None:
            job[8], job[9] = max_kib, avg_kib
            yield Job._make(job)
        prefix = parts[0] + "."
        job = parse(parts, report, line_no)
        max_kib = avg_kib = 0
    if job is not None:
        job[8], job[9] = max_kib, avg_kib
        yield Job._make(job)


class _JobParser:
    """Allocation line → Job fields (a list), with caches for the few distinct users, states and
    memory requests a cluster has; None when the job must not count (reported)."""

    def __init__(self, failure_states):
        self.failure_states = failure_states
        self.users, self.failed, self.requests = {}, {}, {}

    def __call__(self, parts, report, line_no):
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
            job_id, submit, cpus = int(raw_id), int(submit), int(cpus)
            if job_id >= 1 << 32 or submit >= 1 << 32:
                raise BadField("JobIDRaw", raw_id, "id or Submit out of range")
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
            report.add("malformed", line_no, str(err))
            return None

    def _requested(self, req_mem, req_tres, cpus, nodes):
        """req_mem_kib, with the parse of each distinct (ReqMem, ReqTRES) pair done once."""
        key = (req_mem, req_tres, cpus, nodes)
        kib = self.requests.get(key)
        if kib is None:
            kib = self.requests[key] = req_mem_kib(req_mem, req_tres, cpus, nodes)
        return kib


def _check_numbers(parts):
    for name, index in (("JobIDRaw", 0), ("ElapsedRaw", 5), ("AllocCPUS", 6), ("NNodes", 7), ("Submit", 11),
                        ("Start", 12), ("End", 13)):
        whole(parts[index].rstrip("\r\n"), name)

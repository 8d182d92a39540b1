"""Stage 3, sacct lines → job records: split each line, fold step lines into their job, report bad lines."""
from typing import NamedTuple

from sb.parse import (BadField, NOT_STARTED, gpu_count, normalize_user, req_mem_kib, rss_kib,
                      state_word, tres_value, whole)

# The fields the collector asks sacct for, in order. Free-text fields (JobName, WorkDir, SubmitLine)
# are never requested: they can hold the delimiter or newlines, and we store no job names.
REQUIRED_FIELDS = ("JobIDRaw", "User", "State", "ElapsedRaw", "AllocCPUS", "NNodes", "ReqMem",
                   "ReqTRES", "AllocTRES", "MaxRSS", "AveRSS", "Submit", "Start", "End")
# Asked for only where this sacct knows them: the fallback for steps whose MaxRSS/AveRSS are empty.
OPTIONAL_FIELDS = ("TRESUsageInMax", "TRESUsageInAve")
DEFAULT_FAILURE_STATES = ("FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT")
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



class Layout:
    """Where each field sits in a line, for the field list actually requested."""

    def __init__(self, fields, delimiter):
        self.fields = tuple(fields)
        self.delimiter = delimiter
        self.width = len(self.fields)
        index = {name: i for i, name in enumerate(self.fields)}
        missing = [f for f in REQUIRED_FIELDS if f not in index]
        if missing:
            raise ValueError("sacct field list lacks {}".format(", ".join(missing)))
        self.index = index
        self.tres_max = index.get("TRESUsageInMax")
        self.tres_ave = index.get("TRESUsageInAve")


def fold_jobs(lines, layout, report, failure_states=DEFAULT_FAILURE_STATES):
    """Yield a Job per allocation line of `lines`, after folding in the step lines that follow it.

    Never raises on content: every line that cannot count is tallied in `report` under a reason
    (malformed, orphan_step, not_started, not_ended), so nothing vanishes silently.
    """
    failure_states = frozenset(failure_states)
    ix = layout.index
    i_id, i_max, i_ave = ix["JobIDRaw"], ix["MaxRSS"], ix["AveRSS"]
    delimiter, width = layout.delimiter, layout.width
    current_id, current = None, None  # current: the open Job's fields as a list, or None if skipped
    for line_no, line in enumerate(lines, 1):
        parts = line.rstrip("\r\n").split(delimiter)
        if len(parts) != width:
            if line.strip():
                report.add("malformed", line_no, "expected {} fields, found {}".format(width, len(parts)))
            continue
        raw_id = parts[i_id]
        dot = raw_id.find(".")
        if dot >= 0:  # a step line: only its memory matters
            if raw_id[:dot] != current_id:
                report.add("orphan_step", line_no, "step {} without its job line".format(raw_id[:40]))
            elif current is not None:
                _fold_step(current, parts, layout, i_max, i_ave, report, line_no)
            continue
        if current is not None:
            yield Job._make(current)
        current_id = raw_id
        try:
            current = _job_fields(parts, ix, failure_states, report, line_no)
        except BadField as err:
            current = None
            report.add("malformed", line_no, str(err))
    if current is not None:
        yield Job._make(current)


def _job_fields(parts, ix, failure_states, report, line_no):
    """The Job fields of an allocation line, or None when the job must not count (never ran, not ended)."""
    start = parts[ix["Start"]]
    if start in NOT_STARTED:
        report.add("not_started")
        return None
    end_text = parts[ix["End"]]
    if end_text in NOT_STARTED:
        report.add("not_ended")
        return None
    job_id = whole(parts[ix["JobIDRaw"]], "JobIDRaw")
    submit = whole(parts[ix["Submit"]], "Submit")
    if job_id >= 1 << 32 or submit >= 1 << 32:
        raise BadField("JobIDRaw", parts[ix["JobIDRaw"]], "id or Submit out of range")
    user = normalize_user(parts[ix["User"]])
    end = whole(end_text, "End")
    whole(start, "Start")
    elapsed = whole(parts[ix["ElapsedRaw"]], "ElapsedRaw")
    cpus = whole(parts[ix["AllocCPUS"]], "AllocCPUS")
    nodes = whole(parts[ix["NNodes"]], "NNodes")
    gpus = gpu_count(parts[ix["AllocTRES"]])
    req = req_mem_kib(parts[ix["ReqMem"]], parts[ix["ReqTRES"]], cpus, nodes)
    failed = state_word(parts[ix["State"]]) in failure_states
    return [job_id << 32 | submit, user, end, elapsed, cpus, gpus, req, failed, 0, 0]


def _fold_step(current, parts, layout, i_max, i_ave, report, line_no):
    try:
        max_text, ave_text = parts[i_max], parts[i_ave]
        if not max_text and layout.tres_max is not None:
            max_text = tres_value(parts[layout.tres_max], "mem=") or ""
        if not ave_text and layout.tres_ave is not None:
            ave_text = tres_value(parts[layout.tres_ave], "mem=") or ""
        max_kib, avg_kib = rss_kib(max_text, "MaxRSS"), rss_kib(ave_text, "AveRSS")
    except BadField as err:
        report.add("malformed", line_no, str(err))
        return
    if max_kib > current[8]:
        current[8] = max_kib
    if avg_kib > current[9]:
        current[9] = avg_kib

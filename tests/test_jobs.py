"""Folding sacct lines into jobs, and never losing a bad line silently."""
from hypothesis import given, settings, strategies as st

from sb.collect.jobs import FIELDS, Job, LineReport, fold_jobs
from sb.collect.parse import BadField, NOT_STARTED, gpu_count, req_mem_kib, rss_kib, state_word, whole
from sb.names import normalize_user

D = "#|#"


def line(**values):
    row = {name: "" for name in FIELDS}
    row.update(values)
    return D.join(row[name] for name in FIELDS) + "\n"


def job(jid, user="alice", state="COMPLETED", elapsed="3600", cpus="2", nodes="1", req="1000M", alloc="cpu=2",
        submit="1700000000", start="1700000100", end="1700003700", req_tres=""):
    return line(JobIDRaw=jid, User=user, State=state, ElapsedRaw=elapsed, AllocCPUS=cpus, NNodes=nodes,
                ReqMem=req, ReqTRES=req_tres, AllocTRES=alloc, Submit=submit, Start=start, End=end)


def step(jid, maxrss="", averss=""):
    return line(JobIDRaw=jid, MaxRSS=maxrss, AveRSS=averss,
                State="COMPLETED", ElapsedRaw="10", AllocCPUS="1", NNodes="1", Submit="1", Start="1", End="2")


def fold(lines, states=("FAILED",), tres_memory=False):
    report = LineReport()
    return list(fold_jobs(lines, D, report, states, tres_memory)), report


def test_steps_fold_into_their_job_with_max_rss_and_max_ave():
    jobs, report = fold([job("10"), step("10.batch", "1048576", "524288"), step("10.extern", "0", "0"),
                         step("10.0", "3145728", "1048576"), job("11")])
    assert [j.key >> 32 for j in jobs] == [10, 11]
    assert jobs[0].max_kib == 3072 and jobs[0].avg_kib == 1024
    assert jobs[1].max_kib == 0 and jobs[1].avg_kib == 0   # no steps → 0
    assert report.counts == {}


def test_tres_usage_strings_stand_in_for_rss_on_a_sacct_without_maxrss():
    jobs, _ = fold([job("10"), step("10.0", "cpu=00:00:01,mem=2097152,pages=0", "mem=1048576"),
                    step("10.1", "cpu=00:00:01,pages=0", "")], tres_memory=True)
    assert (jobs[0].max_kib, jobs[0].avg_kib) == (2048, 1024)


def test_job_fields():
    (j,), _ = fold([job("7", user="Bob@REALM", state="FAILED", elapsed="7200", cpus="4", nodes="2",
                        req="4000Mc", alloc="cpu=4,gres/gpu=1,gres/gpu:a100=1", submit="1700000000")])
    assert j == Job(key=7 << 32 | 1700000000, user="bob", end=1700003700, elapsed=7200, cpus=4, gpus=1,
                    req_kib=16000 * 1024, failed=True, max_kib=0, avg_kib=0)


def test_never_started_and_unfinished_jobs_count_nowhere_but_are_tallied():
    jobs, report = fold([job("1", start="Unknown", elapsed="0"), step("1.batch", "999"),
                         job("2", start="None"), job("3", start="0"), job("4", end="Unknown"), job("5")])
    assert [j.key >> 32 for j in jobs] == [5]
    assert report.get("not_started") == 3 and report.get("not_ended") == 1
    assert report.get("orphan_step") == 0   # steps of a skipped job still belong to it


def test_malformed_and_orphan_lines_are_counted_and_explained():
    jobs, report = fold([
        job("1", elapsed="abc"),
        "garbage line without delimiters\n",
        job("2", user="bad/user"),
        step("99.batch", "100"),                     # no job line 99 before it
        job("3"), step("3.0", "12Q"),               # bad step memory: job kept, line reported
        job("4"),
    ])
    assert [j.key >> 32 for j in jobs] == [3, 4]
    assert report.get("malformed") == 4 and report.get("orphan_step") == 1
    text = "\n".join(report.examples)
    assert "ElapsedRaw 'abc'" in text and "User 'bad/user'" in text and "MaxRSS '12Q'" in text
    assert "line 2: expected" in text


HOSTILE = st.text(alphabet=st.sampled_from(list("0123456789.|#@KMGTPcn=,/:-_ aZ\t\x00\u00b2\u00e9")), max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(HOSTILE, st.lists(HOSTILE, min_size=len(FIELDS), max_size=len(FIELDS)).map(D.join)),
                max_size=12))
def test_random_and_hostile_lines_never_crash_and_every_line_is_accounted(lines):
    jobs, report = fold([l + "\n" for l in lines])
    assert all(isinstance(j, Job) for j in jobs)
    # every non-blank line is a job, a step, or counted under a reason
    assert len(jobs) <= len([l for l in lines if l.strip()])


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({f: HOSTILE for f in FIELDS}))
def test_hostile_field_values_in_a_well_formed_line_never_crash(values):
    values = {k: v.replace("#|#", "") for k, v in values.items()}
    jobs, report = fold([line(**values)])
    assert len(jobs) + sum(report.counts.values()) == 1   # exactly one outcome: a job or a counted reason
    for j in jobs:
        assert j.user and "/" not in j.user and j.elapsed >= 0 and j.cpus >= 0


def reference_fold(lines, failure_states):
    """The semantics, written plainly from the unit parsers: no caches, no shortcuts, full splits."""
    jobs, current_id, current = [], None, None
    for text in lines:
        parts = text.rstrip("\r\n").split(D)
        if len(parts) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, parts))
        raw = row["JobIDRaw"]
        if "." in raw:
            if raw.split(".")[0] == current_id and current is not None:
                try:
                    step_max, step_avg = rss_kib(row["MaxRSS"]), rss_kib(row["AveRSS"])
                except BadField:
                    continue
                current[8], current[9] = max(current[8], step_max), max(current[9], step_avg)
            continue
        if current is not None:
            jobs.append(Job(*current))
        current_id, current = raw, None
        if row["Start"] in NOT_STARTED or row["End"] in NOT_STARTED:
            continue
        try:
            job_id, submit = whole(raw, "JobIDRaw"), whole(row["Submit"], "Submit")
            whole(row["Start"], "Start")
            cpus, nodes = whole(row["AllocCPUS"], "c"), whole(row["NNodes"], "n")
            if job_id >= 1 << 32 or submit >= 1 << 32:
                continue
            current = [job_id << 32 | submit, normalize_user(row["User"]), whole(row["End"], "End"),
                       whole(row["ElapsedRaw"], "e"), cpus, gpu_count(row["AllocTRES"]),
                       req_mem_kib(row["ReqMem"], row["ReqTRES"], cpus, nodes),
                       state_word(row["State"]) in failure_states, 0, 0]
        except BadField:
            current = None
    if current is not None:
        jobs.append(Job(*current))
    return jobs


VALUES = {
    "JobIDRaw": st.sampled_from(["7", "8", "9", "12", "x", "", "4294967296"]),
    "MaxRSS": st.sampled_from(["", "0", "1048576", "2048K", "1.5G", "junk", "\u0663"]),
    "AveRSS": st.sampled_from(["", "524288", "1M", "bad"]),
    "User": st.sampled_from(["alice", "Bob@REALM", "", "x/y", "carol"]),
    "State": st.sampled_from(["COMPLETED", "FAILED", "CANCELLED by 5", "TIMEOUT", "RUNNING"]),
    "ElapsedRaw": st.sampled_from(["0", "60", "3600", "-1", "1e3", "\u00b2"]),
    "AllocCPUS": st.sampled_from(["1", "4", "0", "x"]),
    "NNodes": st.sampled_from(["1", "2", ""]),
    "ReqMem": st.sampled_from(["4000Mc", "64Gn", "500M", "", "2G", "lots"]),
    "ReqTRES": st.sampled_from(["", "cpu=1,mem=16000M", "gres/gpumem=40G,mem=1G", "gres/gpumem=40G"]),
    "AllocTRES": st.sampled_from(["cpu=1", "gres/gpu=2,gres/gpu:a100=2", "gres/gpu:a=1,gres/gpu:b=2", "gres/gpu=z"]),
    "Submit": st.sampled_from(["1700000000", "1700000001", "None"]),
    "Start": st.sampled_from(["1700000100", "Unknown", "None", "0", ""]),
    "End": st.sampled_from(["1700003700", "Unknown", "17x"]),
}


@st.composite
def sacct_lines(draw):
    lines = []
    for _ in range(draw(st.integers(0, 10))):
        row = {name: draw(strategy) for name, strategy in VALUES.items()}
        if draw(st.booleans()) and lines:   # a step of the previous job line
            row["JobIDRaw"] = draw(st.sampled_from(["7", "8", "12"])) + "." + draw(st.sampled_from(["batch", "0"]))
        lines.append(D.join(row[f] for f in FIELDS) + "\n")
    return lines


@settings(max_examples=500, deadline=None)
@given(sacct_lines())
def test_the_fast_fold_agrees_with_a_plain_reference(lines):
    jobs, _ = fold(lines, states=("FAILED", "TIMEOUT"))
    assert jobs == reference_fold(lines, ("FAILED", "TIMEOUT"))

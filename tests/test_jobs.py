"""Folding sacct lines into jobs, and never losing a bad line silently."""
from hypothesis import given, settings, strategies as st

from sb.jobs import OPTIONAL_FIELDS, REQUIRED_FIELDS, Job, Layout, LineReport, fold_jobs

FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
D = "#|#"


def line(**values):
    row = {name: "" for name in FIELDS}
    row.update(values)
    return D.join(row[name] for name in FIELDS) + "\n"


def job(jid, user="alice", state="COMPLETED", elapsed="3600", cpus="2", nodes="1", req="1000M", alloc="cpu=2",
        submit="1700000000", start="1700000100", end="1700003700", req_tres=""):
    return line(JobIDRaw=jid, User=user, State=state, ElapsedRaw=elapsed, AllocCPUS=cpus, NNodes=nodes,
                ReqMem=req, ReqTRES=req_tres, AllocTRES=alloc, Submit=submit, Start=start, End=end)


def step(jid, maxrss="", averss="", tres_max="", tres_ave=""):
    return line(JobIDRaw=jid, MaxRSS=maxrss, AveRSS=averss, TRESUsageInMax=tres_max, TRESUsageInAve=tres_ave,
                State="COMPLETED", ElapsedRaw="10", AllocCPUS="1", NNodes="1", Submit="1", Start="1", End="2")


def fold(lines, states=("FAILED",)):
    report = LineReport()
    return list(fold_jobs(lines, Layout(FIELDS, D), report, states)), report


def test_steps_fold_into_their_job_with_max_rss_and_max_ave():
    jobs, report = fold([job("10"), step("10.batch", "1048576", "524288"), step("10.extern", "0", "0"),
                         step("10.0", "3145728", "1048576"), job("11")])
    assert [j.key >> 32 for j in jobs] == [10, 11]
    assert jobs[0].max_kib == 3072 and jobs[0].avg_kib == 1024
    assert jobs[1].max_kib == 0 and jobs[1].avg_kib == 0   # no steps → 0
    assert report.counts == {}


def test_tres_usage_is_the_fallback_for_empty_rss():
    jobs, _ = fold([job("10"), step("10.0", "", "", "cpu=00:00:01,mem=2097152,pages=0", "mem=1048576")])
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


def test_layout_follows_requested_field_order():
    fields = tuple(reversed(REQUIRED_FIELDS))
    values = {"JobIDRaw": "5", "User": "carol", "State": "TIMEOUT", "ElapsedRaw": "60", "AllocCPUS": "1",
              "NNodes": "1", "ReqMem": "1G", "ReqTRES": "", "AllocTRES": "", "MaxRSS": "", "AveRSS": "",
              "Submit": "100", "Start": "100", "End": "160"}
    text = "|".join(values[f] for f in fields)
    jobs = list(fold_jobs([text], Layout(fields, "|"), LineReport(), ("TIMEOUT",)))
    assert jobs[0].user == "carol" and jobs[0].failed and jobs[0].req_kib == 1024 * 1024


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

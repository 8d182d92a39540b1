"""Folding sacct lines into jobs, and never losing a bad line silently."""
from hypothesis import given, settings, strategies as st

from sb.collect.jobs import FIELDS, Job, LineReport, fold_jobs
from sb.compat import isascii
from sb.collect.parse import (BadField, NOT_STARTED, cpu_time_ms, gpu_count, gpu_util, req_mem_bytes, rss_bytes,
                              state_word, time_limit_s, tres_memory_bytes, whole)
from sb.names import normalize_user

D = "#|#"


def line(**values):
    row = {name: "" for name in FIELDS}
    row.update(values)
    return D.join(row[name] for name in FIELDS) + "\n"


def job(jid, user="alice", state="COMPLETED", elapsed="3600", cpus="2", nodes="1", req="1000M", alloc="cpu=2",
        submit="1700000000", start="1700000100", end="1700003700", req_tres="", **more):
    return line(JobIDRaw=jid, User=user, State=state, ElapsedRaw=elapsed, AllocCPUS=cpus, NNodes=nodes,
                ReqMem=req, ReqTRES=req_tres, AllocTRES=alloc, Submit=submit, Start=start, End=end, **more)


def step(jid, maxrss="", averss="", total_cpu="", usage=""):
    return line(JobIDRaw=jid, MaxRSS=maxrss, AveRSS=averss, TotalCPU=total_cpu, TRESUsageInTot=usage,
                State="COMPLETED", ElapsedRaw="10", AllocCPUS="1", NNodes="1", Submit="1", Start="1", End="2")


def fold(lines, states=("FAILED",), tres_memory=False):
    report = LineReport()
    return list(fold_jobs(lines, D, report, states, tres_memory)), report


def test_steps_fold_into_their_job_with_max_rss_and_max_ave():
    jobs, report = fold([job("10"), step("10.batch", "1048576", "524288"), step("10.extern", "0", "0"),
                         step("10.0", "3145728", "1048576"), job("11")])
    assert [j.key >> 32 for j in jobs] == [10, 11]
    assert jobs[0].max_bytes == 3145728 and jobs[0].avg_bytes == 1048576
    assert jobs[1].max_bytes == 0 and jobs[1].avg_bytes == 0   # no steps → 0
    assert jobs[0].mem_sampled and not jobs[1].mem_sampled     # a request and a sample; a request only
    assert report.counts == {}


def test_tres_usage_strings_stand_in_for_rss_on_a_sacct_without_maxrss():
    jobs, _ = fold([job("10"), step("10.0", "cpu=00:00:01,mem=2097152,pages=0", "mem=1048576"),
                    step("10.1", "cpu=00:00:01,pages=0", "")], tres_memory=True)
    assert (jobs[0].max_bytes, jobs[0].avg_bytes) == (2097152, 1048576)


def test_job_fields():
    (j,), _ = fold([job("7", user="Bob@REALM", state="FAILED", elapsed="7200", cpus="4", nodes="2",
                        req="4000Mc", alloc="cpu=4,gres/gpu=1,gres/gpu:a100=1", submit="1700000000")])
    assert j == Job(key=7 << 32 | 1700000000, user="bob", account="(none)", partition="(none)", end=1700003700,
                    elapsed=7200, cpus=4, gpus=1, req_bytes=16000 << 20, failed=True, limit=0, wait=100,
                    cpu_ms=0, max_bytes=0, avg_bytes=0, used_bytes=0, mem_sampled=False, gpu_busy=None)


def test_efficiency_fields_of_a_job():
    (j,), report = fold([
        job("8", Account="PhysX", Partition="gpu-a100", TotalCPU="1-02:03:04", TimelimitRaw="120",
            Eligible="1700000040", alloc="cpu=2,gres/gpu=2"),
        step("8.batch", "1048576", "1048576", "00:10.000", "cpu=00:00:10,mem=3145728"),
        step("8.0", "2097152", "524288", "1-01:00:00", "cpu=1-00:00:00,gres/gpumem=4096,gres/gpuutil=150,mem=4194304"),
        step("8.extern", "0", "0", "00:00.001", "cpu=00:00:00,mem=0")])
    assert (j.account, j.partition) == ("physx", "gpu-a100")   # accounts lower-cased, partitions as printed
    assert j.cpu_ms == (86400 + 2 * 3600 + 3 * 60 + 4) * 1000  # the job line's TotalCPU, not the steps' sum
    assert (j.limit, j.wait) == (7200, 60)                     # Start - Eligible
    assert (j.max_bytes, j.used_bytes) == (2097152, 4194304)   # used memory: max of TRESUsageInTot mem=
    assert j.mem_sampled and j.gpu_busy == 150 and report.counts == {}


def test_cpu_time_is_summed_over_steps_when_the_job_line_has_none():
    (j,), _ = fold([job("9"), step("9.batch", "1", "1", "00:01.500"), step("9.0", "1", "1", "01:00:00")])
    assert j.cpu_ms == 1500 + 3600000


def test_unknown_eligible_and_limits_and_waits_never_below_zero():
    jobs, report = fold([job("1", Eligible="Unknown", TimelimitRaw="UNLIMITED"),
                         job("2", Eligible="1700000500", TimelimitRaw="Partition_Limit"),   # eligible after Start
                         job("3", Eligible="soon", TimelimitRaw="2-00:00", TotalCPU="lots")])
    assert [(j.wait, j.limit) for j in jobs] == [(100, 0), (0, 0), (100, 0)]
    assert jobs[2].cpu_ms == 0 and report.get("odd_field") == 3   # counted, and each odd field logged
    assert "TimelimitRaw '2-00:00'" in "\n".join(report.examples)


def test_a_job_without_any_gpu_sample_is_unknown_not_zero():
    jobs, _ = fold([job("1", alloc="gres/gpu=1"), step("1.0", "1", "1", "", "cpu=00:01:00,mem=1"),
                    job("2", alloc="gres/gpu=1"), step("2.0", "1", "1", "", "gres/gpuutil=0,mem=1"),
                    job("3"), step("3.0", "1", "1", "", "gres/gpuutil=50")])
    assert [j.gpu_busy for j in jobs] == [None, 0, None]     # job 3 has no GPU: a stray sample means nothing


def test_odd_accounts_are_malformed_never_names_of_anything():
    jobs, report = fold([job("1", Account="a" * 200), job("2", Account="x\ty"), job("3", Account="../etc")])
    assert [j.account for j in jobs] == ["../etc"]    # a name in JSON only, never a path
    assert report.get("malformed") == 2


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
    # exactly one outcome: a job or a counted reason (a job may also have an odd field, logged)
    assert len(jobs) + sum(n for reason, n in report.counts.items() if reason != "odd_field") == 1
    for j in jobs:
        assert j.user and "/" not in j.user and j.elapsed >= 0 and j.cpus >= 0


def reference_fold(lines, failure_states):
    """The semantics, written plainly from the unit parsers: no caches, no shortcuts, full splits."""
    jobs, current_id, current, steps = [], None, None, []

    def close():
        if current is None:
            return
        rows = [r for r in steps if r is not None]
        used = [tres_memory_bytes(r["TRESUsageInTot"]) for r in rows]
        used = [u if u is not None else rss_bytes(r["MaxRSS"]) for u, r in zip(used, rows)]
        sampled = any(r["MaxRSS"] or tres_memory_bytes(r["TRESUsageInTot"]) is not None for r in rows)
        utils = [gpu_util(r["TRESUsageInTot"]) for r in rows if gpu_util(r["TRESUsageInTot"]) is not None]
        if current["cpu_ms"] is None:
            current["cpu_ms"] = sum(cpu_time_ms(r["TotalCPU"]) for r in rows)
        current.update(max_bytes=max([rss_bytes(r["MaxRSS"]) for r in rows] or [0]),
                       avg_bytes=max([rss_bytes(r["AveRSS"]) for r in rows] or [0]), used_bytes=max(used or [0]),
                       mem_sampled=sampled and current["req_bytes"] > 0,
                       gpu_busy=max(utils) if utils and current["gpus"] else None)
        jobs.append(Job(**current))

    for text in lines:
        parts = text.rstrip("\r\n").split(D)
        if len(parts) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, parts))
        raw = row["JobIDRaw"]
        if "." in raw:
            if raw.split(".")[0] == current_id and current is not None:
                try:
                    rss_bytes(row["MaxRSS"]), rss_bytes(row["AveRSS"]), tres_memory_bytes(row["TRESUsageInTot"])
                    if current["cpu_ms"] is None:
                        cpu_time_ms(row["TotalCPU"])
                    steps.append(row)
                except BadField:
                    pass
            continue
        close()
        current_id, current, steps = raw, None, []
        if row["Start"] in NOT_STARTED or row["End"] in NOT_STARTED:
            continue
        try:
            job_id, submit = whole(raw, "JobIDRaw"), whole(row["Submit"], "Submit")
            start = whole(row["Start"], "Start")
            cpus, nodes = whole(row["AllocCPUS"], "c"), whole(row["NNodes"], "n")
            if job_id >= 1 << 32 or submit >= 1 << 32:
                continue
            if len(row["Account"]) > 128 or not row["Account"].isprintable() or \
                    len(row["Partition"]) > 128 or not row["Partition"].isprintable():
                continue
            try:
                limit = time_limit_s(row["TimelimitRaw"]) or 0
            except BadField:
                limit = 0
            eligible = row["Eligible"]
            since = int(eligible) if eligible.isdigit() and isascii(eligible) and int(eligible) else submit
            try:
                cpu_ms = cpu_time_ms(row["TotalCPU"]) if row["TotalCPU"] else None
            except BadField:
                cpu_ms = 0
            elapsed = whole(row["ElapsedRaw"], "e")
            current = dict(key=job_id << 32 | submit, user=normalize_user(row["User"]),
                           account=row["Account"].lower() or "(none)", partition=row["Partition"] or "(none)",
                           end=whole(row["End"], "End"), elapsed=elapsed, cpus=cpus, gpus=gpu_count(row["AllocTRES"]),
                           req_bytes=req_mem_bytes(row["ReqMem"], row["ReqTRES"], cpus, nodes),
                           failed=state_word(row["State"]) in failure_states, limit=limit,
                           wait=max(0, start - since), cpu_ms=cpu_ms)
        except BadField:
            current = None
    close()
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
    "TotalCPU": st.sampled_from(["", "01:02.345", "1-00:00:00", "10:00:00", "bad", "00:00:00"]),
    "TRESUsageInTot": st.sampled_from(["", "cpu=00:01:00,mem=1048576", "gres/gpuutil=80,mem=2G", "mem=NONE",
                                       "gres/gpuutil=x", "mem=junk"]),
    "Account": st.sampled_from(["", "Phys", "chem", "a\tb"]),
    "Partition": st.sampled_from(["", "gpu", "CPU"]),
    "TimelimitRaw": st.sampled_from(["", "60", "UNLIMITED", "Partition_Limit", "0", "x"]),
    "Eligible": st.sampled_from(["", "Unknown", "1700000050", "1700009999", "0", "soon"]),
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

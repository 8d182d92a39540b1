#!/usr/bin/env python3
"""Synthetic, seeded generator of ``sacct`` "databases" (.db) for SLURM Scoreboard.

Demo fixtures were generated with exactly these commands (run from the repo root):

    python3 bench/gen_sacct.py --cluster hammer --seed 101 --jobs 1500 --users 40 --user-offset 0 --start 2025-09-27 --days 400 --malformed-rate 0 --max-srun-steps 1 -o fixtures/demo/hammer.db
    python3 bench/gen_sacct.py --cluster negishi --seed 202 --jobs 1500 --users 40 --user-offset 8 --start 2025-09-27 --days 400 --malformed-rate 0 --max-srun-steps 1 -o fixtures/demo/negishi.db

(2025-09-27 + 400 days = 2026-11-01T00:00:00Z; hammer has u0001..u0040, negishi
u0009..u0048, so u0009..u0040 overlap; --max-srun-steps 1 keeps each file < 2 MB;
tests/test_gen_sacct.py re-runs these lines and checks the fixtures byte for byte.)

Benchmark input:  python3 bench/gen_sacct.py --jobs 1000000 --seed 1 -o /tmp/1m.db --summary

Output format: line 1 is the header (field names joined by ``|``); every other line
is one row exactly as ``TZ=UTC SLURM_TIME_FORMAT=%s sacct -a -D -P --noconvert``
(Slurm 22.05) prints it, with the columns in ``FIELDS``.  Each allocation line is
followed by its step lines (``.batch``, ``.extern``, ``.0`` ...).  Lines are emitted
in increasing JobIDRaw; End times are spread over ``[start, start+days)``.

Realism notes (things a parser must cope with):
  * TotalCPU uses sacct's own format: ``D-HH:MM:SS``, ``HH:MM:SS``, ``MM:SS.mmm``
    (under an hour with sub-second part) or ``00:MM:SS``.
  * TRESUsageIn* ``cpu=`` uses ``HH:MM:SS`` / ``D-HH:MM:SS``.
  * Never-started jobs: ``CANCELLED by <uid>``, Start ``Unknown``, ElapsedRaw 0,
    AllocCPUS 0, empty AllocTRES, no steps.
  * Requeued jobs: the same JobIDRaw is printed again (earlier run first, State
    REQUEUED / PREEMPTED / NODE_FAIL, with its own Submit).
  * Array tasks ``123_7`` (own JobIDRaw each), het components ``200+0``/``200+1``.
  * User variants: a few users appear as ``u0003@PURDUE.EDU`` or ``U0007`` on
    some of their jobs (same person).
  * Legacy ReqMem ``4000Mc`` (per CPU) / ``64000Mn`` / ``64Gn`` (per node) at
    ``--legacy-reqmem-rate``; otherwise whole-job ``16000M``.
  * ``--malformed-rate`` of data lines are corrupted: truncated, non-numeric
    ElapsedRaw, garbage AllocTRES, bad user ``x/y`` (job lines), extra fields.

Stdlib only; Python >= 3.6 syntax.  Importable: ``generate(fileobj, jobs, seed, ...)``
streams to ``fileobj`` and returns a dict of counts.
"""
from __future__ import print_function

import argparse
import calendar
import math
import random
import sys
import time
from bisect import bisect_right

FIELDS = (
    "JobID", "JobIDRaw", "User", "Account", "Partition", "State", "ElapsedRaw",
    "AllocCPUS", "NNodes", "ReqMem", "ReqTRES", "AllocTRES", "MaxRSS", "AveRSS",
    "TotalCPU", "Submit", "Start", "End", "TRESUsageInMax", "TRESUsageInAve",
    "TimelimitRaw", "Eligible", "TRESUsageInTot", "JobName",
)
HEADER = "|".join(FIELDS)
NFIELDS = len(FIELDS)

MB = 1048576

# gpu_style: "both" = gres/gpu=N,gres/gpu:TYPE=N ; "untyped" = gres/gpu=N only ;
# "typed" = gres/gpu:TYPE=N only ; "mixed" = all three plus gres/gpumem noise.
PROFILES = {
    "default": {
        "cores": 64, "node_mem": 257000, "gpu_cores": 64, "gpu_node_mem": 515000,
        "gpus_per_node": 4, "gpu_style": "mixed", "gpu_types": ("a100", "v100", "h100"),
        "cpu_parts": ("batch", "standby", "highmem", "debug"), "gpu_parts": ("gpu", "gpu-debug"),
        "first_id": 1000001,
    },
    "hammer": {
        "cores": 128, "node_mem": 257000, "gpu_cores": 128, "gpu_node_mem": 515000,
        "gpus_per_node": 4, "gpu_style": "both", "gpu_types": ("a100",),
        "cpu_parts": ("hammer", "standby", "highmem", "debug"), "gpu_parts": ("gpu",),
        "first_id": 4100001,
    },
    "negishi": {
        "cores": 128, "node_mem": 257000, "gpu_cores": 128, "gpu_node_mem": 515000,
        "gpus_per_node": 2, "gpu_style": "untyped", "gpu_types": (),
        "cpu_parts": ("cpu", "standby", "highmem", "debug"), "gpu_parts": ("gpu",),
        "first_id": 2300001,
    },
}

LABS = ("physics", "chem", "bio", "cs", "ece", "me", "aae", "stat", "math", "eaps")
JOB_WORDS = ("train", "sim", "analysis", "bwa", "gromacs", "lammps", "vasp", "run",
             "test", "jupyter", "matlab", "blast", "wrf", "cfd", "md", "montecarlo",
             "fit", "eval", "preprocess", "postproc", "render", "sweep", "bench",
             "align", "assemble", "qc", "finetune", "infer", "mesh", "solver")
STEP_WORDS = ("python3", "lmp", "gmx_mpi", "vasp_std", "hydra_pmi_proxy", "bash",
              "Rscript", "matlab", "julia", "orted", "a.out", "namd2")
REALM = "@PURDUE.EDU"

# (cumulative probability, state) for the final run of a job
STATE_TABLE = (
    (0.720, "COMPLETED"), (0.820, "FAILED"), (0.900, "CANCELLED"),
    (0.940, "TIMEOUT"), (0.970, "OUT_OF_MEMORY"), (0.980, "NODE_FAIL"),
    (0.990, "PREEMPTED"), (1.001, "COMPLETED"),
)
STEP_STATE = {"COMPLETED": "COMPLETED", "FAILED": "FAILED", "CANCELLED": "CANCELLED",
              "TIMEOUT": "CANCELLED", "OUT_OF_MEMORY": "OUT_OF_MEMORY",
              "NODE_FAIL": "CANCELLED", "PREEMPTED": "CANCELLED",
              "REQUEUED": "CANCELLED"}

BAD_ELAPSED = ("abc", "12x3", "NaN", "--", "1,234", "0x1F")
BAD_TRES = ("cpu=,,mem=??", "garbage", "cpu=four,mem=16000M,node=1", "gres/gpu=x2",
            "=,=,=", "billing=4,cpu=4,mem=", "cpu=4;mem=16000M")


# Precomputed time strings (built once at import, ~40 ms) keep formatting cheap.
_HMS = ["%02d:%02d:%02d" % (t // 3600, (t // 60) % 60, t % 60) for t in range(86400)]
_MS = ["%02d:%02d" % (t // 60, t % 60) for t in range(3600)]
_SUB = [".%03d" % t for t in range(1000)]

# %s slots take ints or pre-rendered strings (shared between a job and its steps)
# (the job line's TRESUsageInTot is empty, a step's TimelimitRaw and Eligible too, as sacct prints them)
JOB_FMT = "%s|%s|%s|%s|%s|%s|%s|%d|%d|%s|%s|%s|||%s|%d|%s|%s|||%s|%s||%s"
STEP_FMT = ("%s.%s|%s.%s||%s||%s|%s|%d|%d|%s||%s|%d|%d|%s|%s|%s|%s|"
            "cpu=%s,energy=0,fs/disk=%d,mem=%d,pages=%d,vmem=%d|"
            "cpu=%s,energy=0,fs/disk=%d,mem=%d,pages=%d,vmem=%d|||%s|%s")
# a step's TRESUsageInTot: its tasks' summed usage (gres/gpuutil: percent summed over the step's GPUs)
TOT_FMT = "cpu=%s,energy=0,fs/disk=%d,%smem=%d,pages=%d,vmem=%d"


def fmt_totalcpu(secs, usecs):
    """sacct's _elapsed_time(): D-HH:MM:SS | HH:MM:SS | MM:SS.mmm | 00:MM:SS."""
    if usecs >= 1000000:
        secs += usecs // 1000000
        usecs %= 1000000
    if secs < 3600:
        sub = usecs // 1000
        if sub:
            return _MS[secs] + _SUB[sub]
        return "00:" + _MS[secs]
    if secs < 86400:
        return _HMS[secs]
    return "%d-%s" % (secs // 86400, _HMS[secs % 86400])


def fmt_hms(secs):
    """secs2time_str(): D-HH:MM:SS | HH:MM:SS (used for TRES cpu usage)."""
    if secs < 86400:
        return _HMS[secs]
    return "%d-%s" % (secs // 86400, _HMS[secs % 86400])


def parse_day(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d"))


class _Gen(object):
    def __init__(self, out, jobs, seed, start, days, users, cluster, malformed_rate,
                 legacy_reqmem_rate, user_offset, gpu_style, max_srun_steps=4,
                 no_step_rate=0.05, buffer_lines=2048):
        self.out = out
        self.jobs = int(jobs)
        self.rng = random.Random(seed)
        self.r = self.rng.random
        # The fields added later (TimelimitRaw, Eligible, TRESUsageInTot) draw from their own stream, so
        # every older column keeps its bytes for a given seed.
        self.r2 = random.Random("v2-fields:%s" % seed).random
        self.t0 = int(start)
        self.span = max(1, int(days * 86400))
        prof = dict(PROFILES.get(cluster, PROFILES["default"]))
        if gpu_style:
            prof["gpu_style"] = gpu_style
        if prof["gpu_style"] != "untyped" and not prof["gpu_types"]:
            prof["gpu_types"] = ("a100",)
        self.prof = prof
        self.malformed_rate = float(malformed_rate)
        self.legacy_rate = float(legacy_reqmem_rate)
        self.max_srun = int(max_srun_steps)
        self.no_step_rate = float(no_step_rate)
        self.buf = []
        self.buffer_lines = buffer_lines
        self.nlines = 0
        self.counts = {"jobs": 0, "job_lines": 0, "steps": 0, "malformed": 0,
                       "never_started": 0, "requeued_runs": 0, "array_tasks": 0,
                       "het_components": 0, "gpu_jobs": 0, "legacy_reqmem": 0,
                       "lines": 0}
        self._tres_cache = {}
        self._setup_users(int(users), int(user_offset))
        self._next_bad = self._gap() if self.malformed_rate > 0 else -1

    # ------------------------------------------------------------------ users
    def _setup_users(self, n, offset):
        r = self.r
        n = max(1, n)
        self.users = []
        ranks = list(range(n))
        self.rng.shuffle(ranks)  # which user is heavy depends on the seed
        cum = 0.0
        self.user_cum = []
        for i in range(n):
            num = offset + i + 1
            name = "u%04d" % num
            variant = None
            if num % 11 == 3:
                variant = name + REALM
            elif num % 13 == 7:
                variant = name.upper()
            lab = LABS[num % len(LABS)]
            accounts = (lab, lab, lab, "standby") if num % 3 == 0 else (lab,)
            u = {
                "name": name, "variant": variant, "uid": 20000 + num,
                "accounts": accounts,
                "eff": 0.15 + 0.8 * r(),            # CPU efficiency trait
                "mem": 0.05 + 0.85 * r() ** 1.5,    # memory-use trait (fraction)
                "gpu_p": 0.6 if r() < 0.15 else 0.03,
                "multi_p": 0.25 if r() < 0.15 else 0.02,
                "array_p": 0.05 if r() < 0.2 else 0.003,
                "fail_mult": 0.5 + 1.5 * r(),
            }
            self.users.append(u)
            cum += 1.0 / (ranks[i] + 1) ** 1.1
            self.user_cum.append(cum)
        self.user_total = cum

    def _pick_user(self):
        i = bisect_right(self.user_cum, self.r() * self.user_total)
        return self.users[min(i, len(self.users) - 1)]

    # ------------------------------------------------------------------ output
    def _gap(self):
        rate = self.malformed_rate
        if rate >= 1.0:
            return self.nlines + 1
        u = self.r()
        return self.nlines + 1 + int(math.log(1.0 - u) / math.log(1.0 - rate))

    def emit(self, line, is_job):
        self.nlines += 1
        if self.nlines == self._next_bad:
            line = self._corrupt(line, is_job)
            self.counts["malformed"] += 1
            self._next_bad = self._gap()
        buf = self.buf
        buf.append(line)
        if len(buf) >= self.buffer_lines:
            buf.append("")
            self.out.write("\n".join(buf))
            del buf[:]

    def flush(self):
        if self.buf:
            self.buf.append("")
            self.out.write("\n".join(self.buf))
            del self.buf[:]

    def _corrupt(self, line, is_job):
        r = self.r
        f = line.split("|")
        kind = int(r() * 5)
        if kind == 3 and not is_job:
            kind = 4
        if kind == 0:     # truncated line (e.g. a partial write)
            k = 1 + int(r() * 14)
            return "|".join(f[:k]) + "|" + f[k][: len(f[k]) // 2]
        if kind == 1:     # non-numeric ElapsedRaw
            f[6] = BAD_ELAPSED[int(r() * len(BAD_ELAPSED))]
        elif kind == 2:   # garbage AllocTRES
            f[11] = BAD_TRES[int(r() * len(BAD_TRES))]
        elif kind == 3:   # bad user
            f[2] = "x/y"
        else:             # extra fields (e.g. a '|' inside JobName)
            if r() < 0.5:
                f[-1] = f[-1] + "|oops"
            else:
                f.append("extra")
                f.append(str(int(r() * 100)))
        return "|".join(f)

    # ------------------------------------------------------------------ TRES
    def _tres(self, billing, cpus, gpus, gtype, gstyle, gpumem, mem, nodes):
        key = (billing, cpus, gpus, gtype, gstyle, gpumem, mem, nodes)
        s = self._tres_cache.get(key)
        if s is None:
            parts = []
            if billing:
                parts.append("billing=%d" % billing)
            parts.append("cpu=%d" % cpus)
            if gpus:
                if gstyle != "typed":
                    parts.append("gres/gpu=%d" % gpus)
                if gstyle != "untyped" and gtype:
                    parts.append("gres/gpu:%s=%d" % (gtype, gpus))
                if gpumem:
                    parts.append("gres/gpumem=%dM" % (gpumem * gpus))
            parts.append("mem=%dM" % mem)
            parts.append("node=%d" % nodes)
            s = ",".join(parts)
            if len(self._tres_cache) < 200000:
                self._tres_cache[key] = s
        return s

    # ------------------------------------------------------------------ shapes
    def _shape(self, u, part_hint=None):
        """Resources of one allocation: dict with cpus, nodes, mem (total M), gpus..."""
        r = self.r
        p = self.prof
        sh = {}
        is_gpu = r() < u["gpu_p"]
        if is_gpu:
            parts = p["gpu_parts"]
            cores, node_mem = p["gpu_cores"], p["gpu_node_mem"]
        else:
            parts = p["cpu_parts"]
            cores, node_mem = p["cores"], p["node_mem"]
        part = parts[0] if r() < 0.6 else parts[int(r() * len(parts))]
        if part_hint:
            part = part_hint
        nodes = 1
        if r() < u["multi_p"]:
            nodes = (2, 2, 2, 4, 4, 8, 16)[int(r() * 7)]
        if is_gpu:
            gpus = (1, 1, 1, 2, 2, 4)[int(r() * 6)]
            gpus = min(gpus, p["gpus_per_node"])
            cpn = min(cores, gpus * (4, 8, 16)[int(r() * 3)])
            g_total = gpus * nodes
        else:
            g_total = 0
            if nodes > 1:
                cpn = cores if r() < 0.7 else cores // 2
            else:
                cpn = (1, 1, 1, 2, 4, 4, 8, 8, 16, 16, 24, 32, 64, 128)[int(r() * 14)]
                cpn = min(cpn, cores)
        cpus = cpn * nodes
        if part == "highmem":
            mpn = min(node_mem, max(64000, cpn * 8000))
        elif r() < 0.5:
            mpn = min(node_mem, cpn * (1000, 2000, 4000)[int(r() * 3)])   # per-cpu default
        else:
            mpn = min(node_mem, (4000, 8000, 16000, 32000, 64000, 128000)[int(r() * 6)])
        reqmem = None
        if self.legacy_rate > 0 and r() < self.legacy_rate:
            if r() < 0.5:
                per_cpu = (500, 1000, 2000, 4000, 8000)[int(r() * 5)]
                mpn = min(node_mem, per_cpu * cpn)
                per_cpu = mpn // cpn
                mpn = per_cpu * cpn
                reqmem = "%dMc" % per_cpu
            else:
                if r() < 0.5:
                    gb = (4, 16, 32, 64, 128, 250)[int(r() * 6)]
                    mpn = min(node_mem, gb * 1024)
                    reqmem = ("%dGn" % gb) if mpn == gb * 1024 else ("%dMn" % mpn)
                else:
                    reqmem = "%dMn" % mpn
        mem = mpn * nodes
        if reqmem is None:
            reqmem = "%dM" % mem
        gstyle = p["gpu_style"]
        gtype = ""
        gpumem = 0
        if g_total:
            if p["gpu_types"]:
                gtype = p["gpu_types"][int(r() * len(p["gpu_types"]))]
            if gstyle == "mixed":
                x = r()
                gstyle = "both" if x < 0.5 else ("typed" if x < 0.7 else "untyped")
                if r() < 0.25:
                    gpumem = (40960, 81920, 16384)[int(r() * 3)]
        sh["part"] = part
        sh["nodes"] = nodes
        sh["cpn"] = cpn
        sh["cpus"] = cpus
        sh["mpn"] = mpn
        sh["mem"] = mem
        sh["reqmem"] = reqmem
        sh["gpus"] = g_total
        sh["gpn"] = g_total // nodes if g_total else 0
        sh["gtype"] = gtype
        sh["gstyle"] = gstyle
        sh["gpumem"] = gpumem
        billing = cpus + 16 * g_total if g_total else cpus
        sh["billing"] = billing
        sh["req_tres"] = self._tres(billing, cpus, g_total, "", "untyped", 0, mem, nodes)
        sh["alloc_tres"] = self._tres(billing, cpus, g_total, gtype, gstyle, gpumem, mem, nodes)
        sh["step_tres"] = self._tres(0, cpus, g_total, gtype, gstyle, gpumem, mem, nodes)
        sh["batch_tres"] = self._tres(0, cpn, g_total // nodes, gtype, gstyle, gpumem, mpn, 1)
        if part in ("debug", "gpu-debug"):
            sh["limit"] = 1800
        elif part == "standby":
            sh["limit"] = 4 * 3600
        else:
            sh["limit"] = (3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400,
                           14 * 86400)[int(r() * 7)]
        return sh

    def _pick_state(self, u):
        x = self.r()
        if x > 0.72:
            # scale the non-COMPLETED part by the user's failure trait
            x = 0.72 + (x - 0.72) / u["fail_mult"]
            if x > 1.0:
                return "COMPLETED"
        for p, s in STATE_TABLE:
            if x < p:
                return s
        return "COMPLETED"

    def _elapsed(self, state, limit):
        r = self.r
        if state == "TIMEOUT":
            return limit + int(r() * 120)
        if state in ("FAILED", "OUT_OF_MEMORY") and r() < 0.6:
            lim = min(limit, 1800)
        else:
            lim = limit
        # log-uniform in [5, lim]
        return int(math.exp(math.log(5) + r() * (math.log(max(lim, 6)) - math.log(5))))

    def _wait(self):
        r = self.r
        x = r()
        if x < 0.3:
            return int(r() * 60)
        if x < 0.85:
            return int(math.exp(r() * math.log(4 * 3600)))
        return int(math.exp(r() * math.log(3 * 86400)))

    def _display_user(self, u):
        if u["variant"] is not None and self.r() < 0.3:
            return u["variant"]
        return u["name"]

    def _cancel_by(self, u):
        return "CANCELLED by %d" % (0 if self.r() < 0.15 else u["uid"])

    def _limit_text(self, limit):
        """TimelimitRaw (minutes), now and then no limit as sacct prints it."""
        x = self.r2()
        if x < 0.03:
            return "UNLIMITED"
        if x < 0.06:
            return "Partition_Limit"
        return str(limit // 60)

    def _eligible_text(self, submit, start):
        """Eligible: mostly Submit, sometimes later (held, dependency, --begin), now and then Unknown, and
        now and then after Start (a requeued or clock-skewed record: no wait)."""
        r2 = self.r2
        x = r2()
        if start is None or x < 0.04:
            return "Unknown"
        if x < 0.07:
            return str(start + 1 + int(r2() * 600))
        if x < 0.25:
            return str(submit + int(r2() * (start - submit + 1)))
        return str(submit)

    def _gpu_util(self, gpus, busy):
        """A step's TRESUsageInTot gres/gpuutil token: percent summed over its GPUs (0..100 x gpus)."""
        if busy is None:
            return ""
        return "gres/gpuutil=%d," % int(gpus * 100 * min(1.0, busy * (0.8 + 0.4 * self.r2())))

    # ------------------------------------------------------------------ emit one run
    def _run(self, jobid, raw, u, acct, sh, name, state, elapsed, start, end, submit,
             steps=True, het_lead=True, count_job=True):
        """Emit one allocation line (+ its steps). start None => never started."""
        r = self.r
        counts = self.counts
        uname = self._display_user(u)
        shown_state = self._cancel_by(u) if state == "CANCELLED" else state
        counts["job_lines"] += 1
        if count_job:
            counts["jobs"] += 1
            if sh["gpus"]:
                counts["gpu_jobs"] += 1
            if sh["reqmem"][-1] in "cn":
                counts["legacy_reqmem"] += 1
        limit = self._limit_text(sh["limit"])
        eligible = self._eligible_text(submit, start)
        if start is None:
            counts["never_started"] += 1
            self.emit(JOB_FMT % (jobid, raw, uname, acct, sh["part"], shown_state, 0, 0,
                                 sh["nodes"], sh["reqmem"], sh["req_tres"], "", "00:00:00",
                                 submit, "Unknown", end, limit, eligible, name), True)
            return
        if not steps or r() < self.no_step_rate:
            self.emit(JOB_FMT % (jobid, raw, uname, acct, sh["part"], shown_state, elapsed,
                                 sh["cpus"], sh["nodes"], sh["reqmem"], sh["req_tres"],
                                 sh["alloc_tres"], fmt_totalcpu(int(elapsed * sh["cpus"] * u["eff"] * (0.6 + 0.4 * r())), int(r() * 1000000)),
                                 submit, start, end, limit, eligible, name), True)
            return
        # GPU jobs mostly carry a utilisation sample (gpu/nvml); the rest are unknown, never 0
        busy = self.r2() if sh["gpus"] and self.r2() < 0.85 else None
        lines = []
        tot_s = 0
        tot_us = 0
        s_el = str(elapsed)
        s_start = str(start)
        s_end = str(end)
        eff = u["eff"] * (0.6 + 0.4 * r())
        memf = u["mem"] * (0.5 + 0.5 * r())
        sstate = STEP_STATE.get(state, "COMPLETED")
        nodes = sh["nodes"]
        cpus = sh["cpus"]
        cpn = sh["cpn"]
        mpn_b = sh["mpn"] * MB
        reqmem = sh["reqmem"]
        oom = state == "OUT_OF_MEMORY"
        x = r()
        nsrun = 0 if x < 0.15 else (1 if x < 0.35 else (2 if x < 0.6 else (3 if x < 0.8 else 4)))
        if nsrun > self.max_srun:
            nsrun = self.max_srun
        if not het_lead and nsrun == 0:
            nsrun = 1   # non-leading het components only run srun steps
        has_batch = het_lead and (nsrun == 0 or r() >= 0.08)
        work_in_batch = nsrun == 0
        if has_batch:
            if work_in_batch:
                cs = int(elapsed * cpn * eff)
                rss = int(mpn_b * (0.995 + 0.005 * r()) if oom else mpn_b * memf)
                st = sstate
            else:
                cs = int(elapsed * 0.002 * (1 + r()))
                rss = int((2 + 30 * r()) * MB)
                st = "CANCELLED" if sstate == "OUT_OF_MEMORY" else sstate
            us = int(r() * 1000000)
            tot_s += cs
            tot_us += us
            x = r()
            disk = int(x * 50000000) if x < 0.7 else int(x * 5000)
            vmem = rss + (200 + int(x * 300)) * MB
            hms = fmt_hms(cs)
            gres = self._gpu_util(sh["gpn"], busy if work_in_batch else (busy and 0.0))
            lines.append(STEP_FMT % (jobid, "batch", raw, "batch", acct, st, s_el, cpn, 1,
                                     reqmem, sh["batch_tres"], rss, rss, fmt_totalcpu(cs, us),
                                     s_start, s_start, s_end, hms, disk, rss, 0, vmem,
                                     hms, disk, rss, 0, vmem,
                                     TOT_FMT % (hms, disk, gres, rss, 0, vmem), "batch"))
        # extern: whole allocation, idle
        x = r()
        ext_us = int(x * 3000)
        tot_us += ext_us
        ext_rss = int(x * 1.5 * MB) if x < 0.8 else 0
        ext_vmem = 4411392 + int(x * 4096) * 1024 if ext_rss else 0
        disk = int(x * 9000)
        lines.append(STEP_FMT % (jobid, "extern", raw, "extern", acct,
                                 "CANCELLED" if state == "NODE_FAIL" else "COMPLETED",
                                 s_el, cpus, nodes, reqmem, sh["alloc_tres"], ext_rss, ext_rss,
                                 fmt_totalcpu(0, ext_us), s_start, s_start, s_end,
                                 "00:00:00", disk, ext_rss, 0, ext_vmem,
                                 "00:00:00", disk, ext_rss, 0, ext_vmem,
                                 TOT_FMT % ("00:00:00", disk * nodes, "", ext_rss * nodes, 0,
                                            ext_vmem * nodes), "extern"))
        if nsrun:
            sname = STEP_WORDS[int(r() * len(STEP_WORDS))]
            step_tres = sh["step_tres"]
            t = start + int(r() * 5)
            if t > end:
                t = end
            remaining = end - t
            for k in range(nsrun):
                last = k == nsrun - 1
                dur = remaining if last else int(remaining * (0.2 + 0.5 * r()))
                remaining -= dur
                st = sstate if last else "COMPLETED"
                cs = int(dur * cpus * eff)
                x = r()
                us = int(x * 1000000)
                tot_s += cs
                tot_us += us
                if st == "OUT_OF_MEMORY":
                    rss = int(mpn_b * (0.995 + 0.005 * x))
                else:
                    rss = int(mpn_b * memf * (0.7 + 0.3 * x))
                ave = int(rss * (0.5 + 0.5 * r())) if cpus > 1 else rss
                disk = int(x * 50000000) if x < 0.7 else int(x * 5000)
                pages = int(x * 20) if x < 0.2 else 0
                vmem = rss + (200 + int(x * 300)) * MB
                cmax = cs // nodes
                cave = (cmax * 9) // 10 if nodes > 1 else cmax
                # the step's tasks summed: its biggest task plus the others at the average
                others = nodes - 1
                tot = TOT_FMT % (fmt_hms(cs), disk + (disk // nodes) * others,
                                 self._gpu_util(sh["gpus"], busy), rss + ave * others,
                                 pages * nodes, vmem + (ave + vmem - rss) * others)
                lines.append(STEP_FMT % (jobid, k, raw, k, acct, st, dur, cpus, nodes, reqmem,
                                         step_tres, rss, ave, fmt_totalcpu(cs, us), t, t, t + dur,
                                         fmt_hms(cmax), disk, rss, pages, vmem,
                                         fmt_hms(cave), disk // nodes, ave, pages, ave + vmem - rss,
                                         tot, sname))
                t += dur
        job_line = JOB_FMT % (jobid, raw, uname, acct, sh["part"], shown_state, s_el, cpus,
                              nodes, reqmem, sh["req_tres"], sh["alloc_tres"],
                              fmt_totalcpu(tot_s, tot_us), submit, s_start, s_end, limit, eligible,
                              name)
        n = len(lines)
        counts["steps"] += n
        nb = self._next_bad
        if nb < 0 or nb > self.nlines + n + 1:
            # fast path: no line of this group is due for corruption
            self.nlines += n + 1
            buf = self.buf
            buf.append(job_line)
            buf.extend(lines)
            if len(buf) >= self.buffer_lines:
                buf.append("")
                self.out.write("\n".join(buf))
                del buf[:]
        else:
            emit = self.emit
            emit(job_line, True)
            for line in lines:
                emit(line, False)

    # ------------------------------------------------------------------ driver
    def _slot_end(self, i):
        end = self.t0 + int(self.span * (i + self.r()) / self.jobs)
        return min(end, self.t0 + self.span - 1)

    def _job_name(self):
        r = self.r
        w = JOB_WORDS[int(r() * len(JOB_WORDS))]
        if r() < 0.3:
            w = "%s_%d" % (w, int(r() * 100))
        return w

    def run(self):
        self.out.write(HEADER + "\n")
        r = self.r
        jobs = self.jobs
        next_id = self.prof["first_id"]
        i = 0
        while i < jobs:
            u = self._pick_user()
            acct = u["accounts"][int(r() * len(u["accounts"]))]
            name = self._job_name()
            x = r()
            left = jobs - i
            if x < u["array_p"] and left >= 2:
                n = min(left, 2 + int(math.exp(r() * math.log(30))))
                self._array(next_id, i, n, u, acct, name)
                next_id += n
            elif x > 0.99 and left >= 2:
                n = min(left, 2 if r() < 0.8 else 3)
                self._het(next_id, i, n, u, acct, name)
                next_id += n
            else:
                n = 1
                self._single(next_id, i, u, acct, name)
                next_id += 1
            i += n
            if r() < 0.05:
                next_id += 1 + int(r() * 3)   # ids used by jobs outside this selection
        self.flush()
        self.counts["lines"] = self.nlines
        return self.counts

    def _single(self, jid, i, u, acct, name):
        r = self.r
        sh = self._shape(u)
        state = self._pick_state(u)
        end = self._slot_end(i)
        sid = str(jid)
        if state == "CANCELLED" and r() < 0.35:
            self._run(sid, sid, u, acct, sh, name, state, 0, None, end, end - self._wait())
            return
        elapsed = self._elapsed(state, sh["limit"])
        start = end - elapsed
        submit = start - self._wait()
        if r() < 0.02 and state not in ("PREEMPTED", "NODE_FAIL"):
            # requeued: an earlier run of the same JobIDRaw, printed first
            e_end = submit - int(r() * 60)
            if e_end > self.t0:
                e_state = ("REQUEUED", "PREEMPTED", "NODE_FAIL")[int(r() * 3)]
                e_el = int(min(sh["limit"], 60 + r() * 6 * 3600))
                e_start = e_end - e_el
                e_submit = e_start - self._wait()
                self.counts["requeued_runs"] += 1
                self._run(sid, sid, u, acct, sh, name, e_state, e_el, e_start, e_end, e_submit,
                          count_job=False)
        self._run(sid, sid, u, acct, sh, name, state, elapsed, start, end, submit)

    def _array(self, base, i, n, u, acct, name):
        r = self.r
        sh = self._shape(u)
        first_idx = 0 if r() < 0.6 else 1
        tasks = []
        for k in range(n):
            state = self._pick_state(u)
            end = self._slot_end(i + k)
            elapsed = self._elapsed(state, sh["limit"])
            tasks.append((k, state, end, elapsed, end - elapsed))
        submit = min(t[4] for t in tasks) - self._wait()
        for k, state, end, elapsed, start in tasks:
            jobid = "%d_%d" % (base, first_idx + k)
            raw = str(base + k)
            self.counts["array_tasks"] += 1
            if state == "CANCELLED" and r() < 0.35:
                self._run(jobid, raw, u, acct, sh, name, state, 0, None, end, submit)
            else:
                self._run(jobid, raw, u, acct, sh, name, state, elapsed, start, end, submit)

    def _het(self, base, i, n, u, acct, name):
        state = self._pick_state(u)
        if state == "CANCELLED":
            state = "COMPLETED"
        end = self._slot_end(i)
        sh0 = self._shape(u)
        elapsed = self._elapsed(state, sh0["limit"])
        start = end - elapsed
        submit = start - self._wait()
        for c in range(n):
            sh = sh0 if c == 0 else dict(self._shape(u, part_hint=sh0["part"]), limit=sh0["limit"])
            self.counts["het_components"] += 1
            self._run("%d+%d" % (base, c), str(base + c), u, acct, sh, name, state, elapsed,
                      start, end, submit, het_lead=(c == 0))


def generate(out, jobs, seed, start="2025-01-01", days=90, users=200, cluster="default",
             malformed_rate=0.0005, legacy_reqmem_rate=0.05, user_offset=0, gpu_style=None,
             max_srun_steps=4):
    """Stream a synthetic sacct database to file object ``out``; return counts dict.

    ``start`` is a YYYY-MM-DD string (UTC) or epoch seconds.
    """
    if isinstance(start, str):
        start = parse_day(start)
    g = _Gen(out, jobs, seed, start, days, users, cluster, malformed_rate,
             legacy_reqmem_rate, user_offset, gpu_style, max_srun_steps)
    return g.run()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate a synthetic sacct .db file.")
    ap.add_argument("--jobs", type=int, default=10000,
                    help="allocations to generate (array tasks / het components count each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2025-01-01", help="YYYY-MM-DD (UTC), window start")
    ap.add_argument("--days", type=float, default=90.0, help="window length in days")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--user-offset", type=int, default=0,
                    help="first user is u{offset+1:04d} (to make clusters overlap partially)")
    ap.add_argument("--cluster", default="default",
                    help="profile: %s (unknown names use default)" % ", ".join(sorted(PROFILES)))
    ap.add_argument("--gpu-style", choices=("mixed", "both", "typed", "untyped"), default=None,
                    help="override the profile's GPU TRES style")
    ap.add_argument("--malformed-rate", type=float, default=0.0005)
    ap.add_argument("--legacy-reqmem-rate", type=float, default=0.05)
    ap.add_argument("--max-srun-steps", type=int, default=4,
                    help="cap on srun steps per job (default 4; batch+extern come on top)")
    ap.add_argument("--summary", action="store_true", help="print counts to stderr")
    ap.add_argument("-o", "--output", default="-", help="output file ('-' = stdout)")
    a = ap.parse_args(argv)
    t = time.time()
    kw = dict(start=a.start, days=a.days, users=a.users, cluster=a.cluster,
              malformed_rate=a.malformed_rate, legacy_reqmem_rate=a.legacy_reqmem_rate,
              user_offset=a.user_offset, gpu_style=a.gpu_style,
              max_srun_steps=a.max_srun_steps)
    if a.output == "-":
        try:
            counts = generate(sys.stdout, a.jobs, a.seed, **kw)
            sys.stdout.flush()
        except BrokenPipeError:   # e.g. piped into `head`
            sys.stderr.close()
            return 0
    else:
        with open(a.output, "w", encoding="ascii", newline="\n") as out:
            counts = generate(out, a.jobs, a.seed, **kw)
    dt = time.time() - t
    if a.summary:
        sys.stderr.write(
            "jobs=%(jobs)d job_lines=%(job_lines)d steps=%(steps)d lines=%(lines)d "
            "malformed=%(malformed)d never_started=%(never_started)d "
            "requeued_runs=%(requeued_runs)d array_tasks=%(array_tasks)d "
            "het_components=%(het_components)d gpu_jobs=%(gpu_jobs)d "
            "legacy_reqmem=%(legacy_reqmem)d" % counts
            + " seconds=%.2f jobs_per_s=%d lines_per_s=%d\n"
            % (dt, counts["jobs"] / max(dt, 1e-9), counts["lines"] / max(dt, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

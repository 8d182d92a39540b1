"""Live activity: one `squeue -M <cluster>` snapshot → per-user running/pending jobs, CPUs and GPUs →
clusters/<c>/live.json.

Never added to rollups: it is what is happening now (the board's Now column and player page: scores.live).
"""
import json
import re
import subprocess

from sb.collect.parse import BadField, gpu_count
from sb.collect.sacct import first_error, run_captured
from sb.names import normalize_user
from sb.timeutil import iso_utc

# user | compact state | CPUs | allocated (running) or requested (pending) TRES, e.g. cpu=4,gres/gpu=2 |
# job or array id: 5005_[5-9%1] is the pending remainder of an array, 5 tasks in one line
FORMAT = "UserName:0|,StateCompact:0|,NumCPUs:0|,tres-alloc:0|,JobArrayID:0|"
# `squeue -M NAME` (without -h) prints "CLUSTER: NAME", then the column header, then that cluster's jobs;
# with -h it prints neither (seen on Slurm 22.05), so -h is not passed.
CLUSTER_HEADER = "CLUSTER:"
_ARRAY = re.compile(r"_\[([0-9,:\-]+)(?:%[0-9]+)?\]\Z")
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+)(?::([0-9]+))?)?\Z")


class LiveError(Exception):
    """squeue could not be run, failed, or answered for another cluster; the message says why."""


def command(squeue, cluster):
    return [squeue, "-M", cluster, "-a", "-O", FORMAT]


def snapshot(squeue, cluster, timeout=60):
    """squeue's job lines for every job of `cluster`, checked to be that cluster's answer."""
    try:
        done = run_captured(command(squeue, cluster), timeout)
    except (FileNotFoundError, PermissionError):
        raise LiveError("{!r} not found; put squeue on PATH or set 'squeue' in the config".format(squeue))
    except subprocess.TimeoutExpired:
        raise LiveError("squeue timed out after {} s".format(timeout))
    if done.returncode != 0:
        raise LiveError("squeue exited {}: {}".format(done.returncode, first_error(done.stderr)))
    return cluster_lines(done.stdout.splitlines(), cluster)


def cluster_lines(lines, cluster):
    """The job lines of an answer, refusing one that names another cluster (a wrong SLURM_CONF, a wrapper
    that drops -M). An answer with no header and no job lines is an empty queue (`squeue=true`)."""
    named, jobs, column_header = [], [], False
    for line in lines:
        if line.startswith(CLUSTER_HEADER):
            named.append(line.split(":", 1)[1].strip())
            column_header = True
        elif column_header:  # USER|ST|CPUS|TRES_ALLOC|JOBID| right after each CLUSTER line
            column_header = False
        elif line.strip():
            jobs.append(line)
    others = sorted({name for name in named if name.lower() != cluster.lower()})  # SLURM lower-cases names
    if others:
        raise LiveError("squeue answered for cluster {} instead of {!r}; check SLURM_CONF and the 'squeue' "
                        "setting (the old snapshot is kept)".format(", ".join(map(repr, others)), cluster))
    if jobs and not named:
        raise LiveError("squeue printed no 'CLUSTER: {}' line for -M {}, so its answer may be another cluster's; "
                        "check the 'squeue' setting (the old snapshot is kept)".format(cluster, cluster))
    return jobs


def array_tasks(job_id):
    """Tasks one squeue line stands for: 5005_[5-9%1] → 5, 5005_[1,3,7-9] → 5, 0-15:4 steps → 4; else 1."""
    found = _ARRAY.search(job_id.strip())
    if not found:
        return 1
    total = 0
    for part in found.group(1).split(","):
        piece = _RANGE.match(part)
        if not piece:
            return 1
        low, high, step = piece.group(1), piece.group(2), piece.group(3)
        if high is None:
            total += 1
        elif int(high) >= int(low) and (step is None or int(step) > 0):
            total += (int(high) - int(low)) // int(step or 1) + 1
        else:
            return 1
    return max(total, 1)


def summarize(lines, opted_out):
    """{user: {"running", "pending", "cpus", "gpus"}}; CPUs and GPUs count running jobs only."""
    users = {}
    for line in lines:
        fields = line.split("|")
        if len(fields) < 4:
            continue
        try:
            user = normalize_user(fields[0])
            cpus = int(fields[2]) if fields[2].isdecimal() else 0
            gpus = gpu_count(fields[3])
        except BadField:
            continue
        if opted_out(user):
            continue
        entry = users.setdefault(user, {"running": 0, "pending": 0, "cpus": 0, "gpus": 0})
        if fields[1] == "R":
            entry["running"] += 1
            entry["cpus"] += cpus
            entry["gpus"] += gpus
        elif fields[1] == "PD":
            entry["pending"] += array_tasks(fields[4]) if len(fields) > 4 else 1
    return users


def live_json(cluster, users, asof):
    doc = {"asof": iso_utc(asof), "cluster": cluster, "users": {u: users[u] for u in sorted(users)}}
    return (json.dumps(doc, indent=1) + "\n").encode()

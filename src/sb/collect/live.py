"""Live activity: one squeue snapshot → per-user running/pending jobs, CPUs and GPUs → clusters/<c>/live.json.

Never added to rollups: it is what is happening now (the board does not show it yet).
"""
import json
import subprocess

from sb.collect.parse import BadField, gpu_count
from sb.collect.sacct import first_error
from sb.names import normalize_user
from sb.timeutil import iso_utc

# user | compact state | CPUs | allocated (running) or requested (pending) TRES, e.g. cpu=4,gres/gpu=2
FORMAT = "UserName:0|,StateCompact:0|,NumCPUs:0|,tres-alloc:0|"


class LiveError(Exception):
    """squeue could not be run or failed; the message says why."""


def snapshot(squeue, timeout=60):
    """squeue's lines for every job of this cluster."""
    try:
        done = subprocess.run([squeue, "-a", "-h", "-O", FORMAT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              encoding="utf-8", errors="replace", timeout=timeout)
    except FileNotFoundError:
        raise LiveError("{!r} not found; put squeue on PATH or set 'squeue' in the config".format(squeue))
    except subprocess.TimeoutExpired:
        raise LiveError("squeue timed out after {} s".format(timeout))
    if done.returncode != 0:
        raise LiveError("squeue exited {}: {}".format(done.returncode, first_error(done.stderr)))
    return done.stdout.splitlines()


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
            entry["pending"] += 1
    return users


def live_json(cluster, users, asof):
    doc = {"asof": iso_utc(asof), "cluster": cluster, "users": {u: users[u] for u in sorted(users)}}
    return (json.dumps(doc, indent=1) + "\n").encode()

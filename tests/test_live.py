"""live.json: squeue -M <cluster>, an answer checked to be that cluster's, array remainders counted per task."""
import json
import os

import pytest

from conftest import GOLDEN
from sb.collect import live

NOW = "2024-04-10T12:00:00"
OPTS = ("rate_limit_per_min=0", "backfill_start=2024-01")


def live_file(sandbox):
    return os.path.join(sandbox.cluster_dir(), "live.json")


@pytest.mark.parametrize("job_id, tasks", [("5005_[5-9%1]", 5), ("5005_[1,3,7-9]", 5), ("5005_[0-15:4]", 4),
                                           ("5005_[5-9]", 5), ("5005_7", 1), ("5006", 1), ("", 1),
                                           ("5005_[9-5]", 1), ("5005_[x]", 1)])
def test_an_array_remainder_counts_its_tasks(job_id, tasks):
    assert live.array_tasks(job_id) == tasks


def test_poll_asks_squeue_for_its_cluster_and_counts_pending_array_tasks(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    argv_log = str(tmp_path / "squeue-argv")
    open(sandbox.squeue, "a").close()
    script = open(sandbox.squeue).read().replace("#!/bin/sh\n", '#!/bin/sh\necho "$@" > "{}"\n'.format(argv_log), 1)
    open(sandbox.squeue, "w").write(script)
    open(sandbox.squeue_out, "w").write("\n".join([
        "alice|PD|1|cpu=1,node=1|5005_[5-9%1]|",
        "alice|R|1|cpu=1,node=1|5005_4|",
        "bob|PD|2|cpu=2,node=1|5010_[1,3,7-9]|",
        "bob|PD|2|cpu=2,node=1|5011|"]) + "\n")
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 0, err
    assert open(argv_log).read().split()[:2] == ["-M", "hammer"]
    users = json.load(open(live_file(sandbox)))["users"]
    assert users["alice"] == {"running": 1, "pending": 5, "cpus": 1, "gpus": 0}
    assert users["bob"]["pending"] == 6


def test_another_clusters_answer_is_refused_and_the_old_snapshot_kept(sandbox, monkeypatch):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    open(sandbox.squeue_out, "w").write("alice|R|4|cpu=4,node=1|77|\n")
    assert sandbox.run("poll", now=NOW, options=OPTS)[0] == 0
    before = open(live_file(sandbox), "rb").read()
    monkeypatch.setenv("FAKE_SQUEUE_CLUSTER", "negishi")
    open(sandbox.squeue_out, "w").write("zed|R|64|cpu=64,node=2|99|\n")
    code, out, err = sandbox.run("poll", now="2024-04-10T12:10:00", options=OPTS)
    lines = [line for line in err.splitlines() if "live activity" in line]
    assert code == 0 and len(lines) == 1
    assert "live activity not updated: squeue answered for cluster 'negishi' instead of 'hammer'" in lines[0]
    assert open(live_file(sandbox), "rb").read() == before


HEADER = "USER|ST|CPUS|TRES_ALLOC|JOBID|"


def test_an_answer_without_its_cluster_line_is_refused():
    with pytest.raises(live.LiveError, match="no 'CLUSTER: hammer' line"):
        live.cluster_lines([HEADER, "alice|R|1|cpu=1|5|"], "hammer")
    assert live.cluster_lines([], "hammer") == []          # squeue=true: nothing running, nothing claimed


def test_the_cluster_and_column_header_lines_are_not_jobs():
    # what Slurm 22.05's `squeue -M hammer -a -O ...` prints (tests/testbed)
    answer = ["CLUSTER: hammer", HEADER, "sbdave|PD|1|cpu=1,mem=200M,node=1,billing=1|24_[1-5%1]|"]
    assert live.cluster_lines(answer, "hammer") == answer[2:]
    assert live.cluster_lines(answer, "Hammer") == answer[2:]   # SLURM lower-cases cluster names
    assert live.cluster_lines(["CLUSTER: hammer", HEADER], "hammer") == []
    assert live.summarize(answer[2:], lambda user: False)["sbdave"]["pending"] == 5


def test_an_outage_is_one_line_though_squeue_fails_too(sandbox, monkeypatch):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    monkeypatch.setenv("FAKE_SACCT_DOWN", "1")
    monkeypatch.setenv("FAKE_SQUEUE_FAIL", "1")        # squeue -M asks slurmdbd for the controller as well
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "nothing was committed" in lines[0]

"""discover (users from homes and accounting → queued targeted backfills, worked off by poll) and live.json."""
import json
import os
import pwd
from collections import namedtuple

import pytest

from conftest import GOLDEN, assert_same_totals
from sb.collect import discover

EXPECTED = json.load(open(os.path.join(GOLDEN, "hammer.expected.json")))
NOW = "2024-04-10T12:00:00"
OPTS = ("rate_limit_per_min=0", "backfill_start=2024-01", "discover_days=120")


def home_roots(tmp_path, names):
    root = tmp_path / "home"
    for name in names:
        (root / name).mkdir(parents=True)
    return str(root)


def test_home_users_come_from_passwd_in_the_uid_range(tmp_path, monkeypatch):
    Entry = namedtuple("Entry", "pw_uid")
    passwd = {"root": 0, "nobody": 65534, "daemon": 1, "alice": 1001, "svcbackup": 1500, "Bob": 1002}
    monkeypatch.setattr(pwd, "getpwnam", lambda name: Entry(passwd[name]))
    roots = home_roots(tmp_path, ["root", "nobody", "daemon", "alice", "svcbackup", "Bob", "ghost", "bad name"])
    found = discover.home_users([roots, str(tmp_path / "missing")], 1000, 60000, {"svcbackup"})
    assert found == {"alice", "bob"}           # no passwd entry: 'ghost'; unsafe name: 'bad name'


def test_queue_rules():
    out = lambda user: user == "olga"  # noqa: E731
    wanted = discover.to_queue({"new", "known", "stored", "back", "olga"}, known={"known", "back"},
                               with_data={"stored"}, purged={"back": ["2024-02", "2024-01"], "olga": ["2024-01"]},
                               opted_out=out)
    assert wanted == {"new": None, "back": "2024-01"}


def optout(sandbox, names):
    os.makedirs(os.path.join(sandbox.root, "config"), exist_ok=True)
    path = os.path.join(sandbox.root, "config", "optout.txt")
    if names:
        open(path, "w").write("\n".join(names) + "\n")
    elif os.path.exists(path):
        os.unlink(path)


def test_a_user_hidden_from_earlier_polls_is_discovered_and_backfilled_within_the_rate_limit(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    optout(sandbox, ["dave"])
    assert sandbox.run("backfill", now=NOW, options=OPTS)[0] == 0
    assert "dave" not in sandbox.alltime()
    optout(sandbox, [])
    opts = ("rate_limit_per_min=2", "backfill_start=2024-01", "discover_days=120",
            "home_roots=" + home_roots(tmp_path, []))
    code, out, err = sandbox.run("discover", now="2024-04-10T13:00:00", options=opts)
    assert code == 0 and "1 targeted backfill(s) queued" in out, out + err
    assert [e["user"] for e in sandbox.cursor()["backfill_queue"]] == ["dave"]
    code, out, err = sandbox.run("discover", now="2024-04-10T13:05:00", options=opts)
    assert "0 targeted backfill(s) queued" in out           # known now: not queued twice
    before = len(sandbox.sacct_calls())
    minute = 0
    while sandbox.cursor().get("backfill_queue"):
        minute += 10
        assert minute < 200, "the queue never drained"
        assert sandbox.run("poll", now="2024-04-10T13:{:02d}:00".format(minute % 60) if minute < 60 else
                           "2024-04-10T{:02d}:{:02d}:00".format(13 + minute // 60, minute % 60), options=opts)[0] == 0
    assert len(sandbox.sacct_calls()) - before <= 2 * (minute // 10)     # never more than 2 calls a tick
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert_same_totals(sandbox.alltime(), EXPECTED["alltime"])
    queried = [c["argv"] for c in sandbox.sacct_calls()[before:] if "-u" in c["argv"]]
    assert queried and all(a[a.index("-u") + 1] == "dave" for a in queried)


def test_a_purged_user_who_opts_back_in_is_queued_and_recounted(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    sandbox.run("backfill", now=NOW, options=OPTS)
    optout(sandbox, ["carol"])
    sandbox.run("poll", now=NOW, options=OPTS)
    assert "carol" not in sandbox.alltime()
    optout(sandbox, [])
    opts = OPTS + ("home_roots=" + home_roots(tmp_path, []),)
    assert sandbox.run("discover", now=NOW, options=opts)[0] == 0
    assert sandbox.run("poll", now=NOW, options=opts)[0] == 0          # rate limit off: drains at once
    assert not sandbox.cursor()["backfill_queue"]
    assert_same_totals(sandbox.monthly(), EXPECTED["monthly"])
    assert_same_totals(sandbox.alltime(), EXPECTED["alltime"])


def test_poll_writes_a_live_snapshot_that_never_reaches_the_rollups(sandbox):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    optout(sandbox, ["carol"])
    open(sandbox.squeue_out, "w").write("\n".join([
        "sbalice|R|4|cpu=4,mem=16G,node=1,billing=4,gres/gpu=2,gres/gpu:a100=2|",
        "sbalice|R|2|cpu=2,mem=1G,node=1,billing=2|",
        "sbalice|PD|8|cpu=8,mem=8G,node=1,billing=8|",
        "Bob@REALM|PD|1|cpu=1,node=1|",
        "carol|R|64|cpu=64,node=2|",
        "x/y|R|1|cpu=1|", "garbage"]) + "\n")
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 0, err
    live = json.load(open(os.path.join(sandbox.cluster_dir(), "live.json")))
    assert live["cluster"] == "hammer" and live["asof"].startswith("2024-04-10T12:00")
    assert live["users"] == {"sbalice": {"running": 2, "pending": 1, "cpus": 6, "gpus": 2},
                             "bob": {"running": 0, "pending": 1, "cpus": 0, "gpus": 0}}
    assert "sbalice" not in json.dumps(sandbox.monthly())


def test_a_failing_squeue_only_warns(sandbox, monkeypatch):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    monkeypatch.setenv("FAKE_SQUEUE_FAIL", "1")
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 0 and "live activity not updated: squeue exited 1: squeue: error: Unable to contact" in err
    assert_same_totals(sandbox.monthly(), {"2024-01": EXPECTED["monthly"]["2024-01"]})  # the tick's work is done


def test_a_queued_user_who_opts_out_meanwhile_is_dropped_unread(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    optout(sandbox, ["dave"])
    sandbox.run("backfill", now=NOW, options=OPTS)
    optout(sandbox, [])
    opts = OPTS + ("home_roots=" + home_roots(tmp_path, []),)
    sandbox.run("discover", now=NOW, options=opts)
    assert [e["user"] for e in sandbox.cursor()["backfill_queue"]] == ["dave"]
    optout(sandbox, ["dave"])
    before = len(sandbox.sacct_calls())
    assert sandbox.run("poll", now=NOW, options=opts)[0] == 0
    assert sandbox.cursor()["backfill_queue"] == []
    assert not any("-u" in c["argv"] for c in sandbox.sacct_calls()[before:])
    assert "dave" not in sandbox.alltime()

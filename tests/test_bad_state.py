"""Damaged state files and odd leftovers: one line naming the file and what to do, never a traceback."""
import json
import os

import pytest

from conftest import GOLDEN, assert_same_totals
from sb.store.layout import ClusterPaths

NOW = "2024-04-10T12:00:00"
LATER = "2024-04-10T12:10:00"
OPTS = ("rate_limit_per_min=0", "backfill_start=2024-01")


def polled(sandbox):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 0, err
    return ClusterPaths(sandbox.root, "hammer")


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("text, says", [("[]", "expected a JSON object, found list"),
                                        ("null", "expected a JSON object, found null"),
                                        ('"x"', "found str"),
                                        (None, "'watermark' is 'abc', expected a whole epoch second"),
                                        ("drop:coldstart_done", "no 'coldstart_done'"),
                                        ("queue", "'backfill_queue' entry")])
def test_a_cursor_of_the_wrong_shape_is_one_line_naming_it_and_is_healed(sandbox, text, says):
    """Damage is never fatal (issue 14 §1): the cursor is kept as .bad, the cold start begins again, and
    dedupe keeps every total exact."""
    paths = polled(sandbox)
    cursor = json.load(open(paths.cursor))
    if text is None:
        cursor["watermark"] = "abc"
        text = json.dumps(cursor)
    elif text == "drop:coldstart_done":
        del cursor["coldstart_done"]
        text = json.dumps(cursor)
    elif text == "queue":
        cursor["backfill_queue"] = [{"user": "../x", "next_month": "2024-01", "until": "2024-02"}]
        text = json.dumps(cursor)
    open(paths.cursor, "w").write(text)
    code, out, err = sandbox.run("poll", now=LATER, options=OPTS)
    line = one_line("\n".join(line for line in err.splitlines() if "poll_cursor.json" in line))
    assert code == 0 and paths.cursor in line and says in line and "kept as poll_cursor.json.bad" in line
    assert open(paths.cursor + ".bad").read() == text
    for command in ("backfill", "rebuild"):
        code, out, err = sandbox.run(command, now=LATER, options=OPTS)
        assert code == 0 and "poll_cursor" not in err, err
    expected = json.load(open(os.path.join(GOLDEN, "hammer.expected.json")))
    assert_same_totals(sandbox.monthly(), expected["monthly"])
    assert_same_totals(sandbox.alltime(), expected["alltime"])
    assert sandbox.cursor()["coldstart_done"]


def test_a_pacing_file_of_the_wrong_shape_is_reset_with_a_warning(sandbox):
    paths = polled(sandbox)
    for text in ("[]", '{"calls": "x"}', '{"failures": null}', "\xff garbage"):
        open(paths.pacing, "w").write(text)
        code, out, err = sandbox.run("poll", now=LATER, options=("rate_limit_per_min=2", "backfill_start=2024-01"))
        line = one_line("\n".join(line for line in err.splitlines() if "pacing.json" in line))
        assert code == 0 and paths.pacing in line and "start afresh" in line
        assert isinstance(json.load(open(paths.pacing)), dict)


def test_a_timeout_says_nothing_was_committed_once(sandbox, monkeypatch):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    monkeypatch.setenv("FAKE_SACCT_SLEEP", "5")
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS + ("sacct_timeout_sec=1",))
    line = one_line(err)
    assert code == 1 and "timed out after 1 s" in line and line.count("nothing was committed") == 1


def test_live_json_temps_of_a_killed_run_are_swept(sandbox):
    paths = polled(sandbox)
    stale = os.path.join(paths.base, ".live.json.tmp-host-123-1")
    open(stale, "w").write("half")
    other = os.path.join(paths.base, "notes.txt")            # not ours: left alone
    open(other, "w").write("x")
    assert sandbox.run("poll", now=LATER, options=OPTS)[0] == 0
    assert not os.path.exists(stale) and os.path.exists(other)

"""The shared tree is group-writable, so nothing in it is trusted: journals are confined to the cluster's
subtree, no file is read or created through a symbolic link, optout.txt must be a small regular file."""
import json
import os
import signal
import stat

import pytest

from conftest import GOLDEN
from sb.optout import read_optout_file
from sb.store.files import Transaction, recover
from sb.store.layout import ClusterPaths

NOW = "2024-04-10T12:00:00"
OPTS = ("rate_limit_per_min=0", "backfill_start=2024-01")


@pytest.fixture
def alarm():
    """Fail instead of hanging forever (a FIFO opened for reading blocks until a writer comes)."""
    def timeout(*_):
        raise TimeoutError("hung")
    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def polled(sandbox):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    assert sandbox.run("poll", now=NOW, options=OPTS)[0] == 0
    return ClusterPaths(sandbox.root, "hammer")


def plant_journal(paths, doc):
    with open(paths.journal, "w") as handle:
        handle.write(doc if isinstance(doc, str) else json.dumps(doc))


def warnings(err):
    return [line for line in err.splitlines() if "journal.json" in line]


# ---- the journal -----------------------------------------------------------------------------------

def test_a_planted_journal_with_absolute_paths_deletes_and_replaces_nothing(sandbox, tmp_path):
    paths = polled(sandbox)
    victim, bashrc = tmp_path / "victim.txt", tmp_path / "bashrc"
    victim.write_text("keep me")
    bashrc.write_text("original")
    evil = tmp_path / ".evil"
    evil.write_text("rm -rf ~")
    plant_journal(paths, {"renames": [[str(evil), str(bashrc)]], "deletes": [str(victim)]})
    code, out, err = sandbox.run("poll", now="2024-04-10T12:10:00", options=OPTS)
    assert code == 0, err
    assert victim.read_text() == "keep me" and bashrc.read_text() == "original" and evil.exists()
    assert len(warnings(err)) == 1 and "refused" in warnings(err)[0] and "journal.json.bad" in warnings(err)[0]
    assert os.path.exists(paths.journal + ".bad") and not os.path.exists(paths.journal)


@pytest.mark.parametrize("doc", [
    {"renames": [], "deletes": ["../negishi/agg/users/alice.json"]},
    {"renames": [], "deletes": ["agg/../../negishi/agg/users/alice.json"]},
    {"renames": [["agg/users/sbalice.json", "agg/users/bob.json"]], "deletes": []},   # not a staged temp
    {"renames": [["agg/users/.x.json.tmp-h-1-1", "agg/users/y.json"]], "deletes": []},  # not its sibling's temp
    {"renames": [], "deletes": ["linked/alice.json"]},                                    # out through a link
])
def test_journal_entries_must_stay_inside_the_subtree(sandbox, doc):
    paths = polled(sandbox)
    other = ClusterPaths(sandbox.root, "negishi")
    other.make_dirs()
    with open(other.user("alice"), "w") as handle:
        handle.write("{}")
    os.symlink(other.users_dir, os.path.join(paths.base, "linked"))
    before = sorted(os.listdir(paths.users_dir))
    plant_journal(paths, doc)
    replayed, swept = recover(paths, warn=lambda line: None)
    assert not replayed and os.path.exists(other.user("alice"))
    assert sorted(os.listdir(paths.users_dir)) == before
    assert os.path.exists(paths.journal + ".bad")


@pytest.mark.parametrize("doc", ["[]", "null", '{"renames": []}', '{"deletes": []}', "garbage{",
                                 '{"renames": [["a"]], "deletes": []}'])
def test_a_damaged_journal_is_quarantined_with_one_line_naming_it(sandbox, doc):
    paths = polled(sandbox)
    plant_journal(paths, doc)
    code, out, err = sandbox.run("poll", now="2024-04-10T12:10:00", options=OPTS)
    assert code == 0 and "Traceback" not in err
    assert len(warnings(err)) == 1 and paths.journal in warnings(err)[0]
    assert open(paths.journal + ".bad").read() == doc


def test_a_second_bad_journal_never_overwrites_the_first(sandbox):
    paths = polled(sandbox)
    for doc in ("first", "second"):
        plant_journal(paths, doc)
        recover(paths, warn=lambda line: None)
    assert open(paths.journal + ".bad").read() == "first" and open(paths.journal + ".bad.2").read() == "second"


def test_our_own_journals_still_replay(sandbox):
    paths = polled(sandbox)
    tx = Transaction(paths)
    tx.write(paths.user("zed"), b"Z")
    rel = lambda p: os.path.relpath(p, paths.base)  # noqa: E731
    plant_journal(paths, {"renames": [[rel(a), rel(b)] for a, b in tx.renames], "deletes": []})
    assert recover(paths) == (True, 0) and open(paths.user("zed"), "rb").read() == b"Z"


# ---- links and special files -----------------------------------------------------------------------

def test_a_lock_file_linked_to_another_file_is_refused_not_truncated(sandbox, tmp_path):
    paths = polled(sandbox)
    precious = tmp_path / "precious"
    precious.write_text("do not truncate")
    os.unlink(paths.lock)
    os.symlink(str(precious), paths.lock)
    code, out, err = sandbox.run("poll", now="2024-04-10T12:10:00", options=OPTS)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "lock.pid is a symbolic link" in err
    assert precious.read_text() == "do not truncate"


def test_a_problem_log_linked_to_a_secret_is_never_copied(sandbox, tmp_path):
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))   # malformed lines in 2024-02: that month logs
    paths = ClusterPaths(sandbox.root, "hammer")
    paths.make_dirs()
    secret = tmp_path / "secret"
    secret.write_text("TOP SECRET\n")
    os.chmod(str(secret), 0o600)
    os.symlink(str(secret), paths.log)
    code, out, err = sandbox.run("backfill", now=NOW, options=OPTS)
    assert code == 1 and "problems.log is a symbolic link" in err and len(err.strip().splitlines()) <= 2
    for folder, _, names in os.walk(sandbox.root):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                assert b"TOP SECRET" not in open(path, "rb").read(), path


def test_a_linked_users_directory_is_not_followed(sandbox, tmp_path):
    paths = ClusterPaths(sandbox.root, "hammer")
    os.makedirs(os.path.dirname(paths.users_dir))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(str(elsewhere), paths.users_dir)
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "agg/users is a symbolic link" in err and "replace it with a directory" in err
    assert os.listdir(str(elsewhere)) == []


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_an_optout_list_that_is_not_a_small_regular_file_stops_poll_with_one_line(sandbox, tmp_path, alarm, kind):
    config = os.path.join(sandbox.root, "config")
    os.makedirs(config)
    path = os.path.join(config, "optout.txt")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "w") as handle:
            handle.write("alice\n" * 200000)
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    code, out, err = sandbox.run("poll", now=NOW, options=OPTS)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "optout.txt: cannot read" in err
    assert sandbox.monthly() == {}                 # nothing counted while opt-outs cannot be read
    with pytest.raises(ValueError, match="optout.txt: cannot read"):
        read_optout_file(path)                     # the board reads it with the same function


def test_the_board_shows_a_fifo_optout_list_as_a_problem_without_hanging(demo_root, tmp_path, alarm):
    import shutil
    from sb.scores.board import Scores
    root = str(tmp_path / "root")
    shutil.copytree(demo_root, root)
    os.makedirs(os.path.join(root, "config"), exist_ok=True)
    path = os.path.join(root, "config", "optout.txt")
    if os.path.exists(path):
        os.unlink(path)
    os.mkfifo(path)
    data = Scores(root)
    assert data.opted_out() == set()
    assert "not a regular file" in data.problems[path]
    assert stat.S_ISFIFO(os.stat(path).st_mode)


# ---- opt-outs: names kept from the world, home opt-outs found without new jobs --------------------

def engine_run(sandbox, command, when, homes, *args):
    import calendar
    from sb import config
    from sb.collect.engine import Engine
    settings = config.load(env={}, flags={"root": sandbox.root, "cluster": "hammer", "sacct": sandbox.sacct,
                                          "squeue": sandbox.squeue, "rate_limit_per_min": 0,
                                          "backfill_start": "2024-01", "discover_days": 120,
                                          "home_roots": [str(homes)]})
    clock = lambda: calendar.timegm(when)  # noqa: E731
    return Engine(settings, clock=clock, out=lambda t: None, err=lambda t: None,
                  home_lookup=lambda user: str(homes / user)).run(command, *args)


def test_a_home_optout_of_a_user_without_new_jobs_takes_effect_within_a_day(sandbox, tmp_path):
    from sb.collect import backfill_cmd, poll_cmd
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    homes = tmp_path / "homes"
    (homes / "alice").mkdir(parents=True)
    assert engine_run(sandbox, backfill_cmd.backfill, (2024, 4, 10, 12, 0, 0), homes) == 0
    assert engine_run(sandbox, poll_cmd.poll, (2024, 4, 10, 12, 10, 0), homes) == 0   # today's check: nobody
    (homes / "alice" / ".slurm_scoreboard_optout").write_text("")
    assert engine_run(sandbox, poll_cmd.poll, (2024, 4, 10, 12, 20, 0), homes) == 0   # same day: not again
    assert "alice" in sandbox.alltime()
    assert engine_run(sandbox, poll_cmd.poll, (2024, 4, 11, 0, 0, 0), homes) == 0     # the next UTC day
    assert "alice" not in sandbox.alltime()
    assert all("alice" not in users for users in sandbox.monthly().values())
    assert all("alice" not in [r["user"] for r in rows] for rows in sandbox.board()["boards"].values())


def test_state_naming_opted_out_users_is_not_world_readable(sandbox, tmp_path):
    from sb.collect import backfill_cmd, discover_cmd, poll_cmd
    sandbox.use_db(os.path.join(GOLDEN, "hammer.db"))
    homes = tmp_path / "homes"
    (homes / "carol").mkdir(parents=True)
    paths = ClusterPaths(sandbox.root, "hammer")
    old = os.umask(0o002)
    try:
        assert engine_run(sandbox, backfill_cmd.backfill, (2024, 4, 10, 12, 0, 0), homes) == 0
        assert engine_run(sandbox, discover_cmd.discover_users, (2024, 4, 10, 12, 5, 0), homes) == 0
        (homes / "carol" / ".slurm_scoreboard_optout").write_text("")
        assert engine_run(sandbox, poll_cmd.poll, (2024, 4, 11, 0, 0, 0), homes) == 0
    finally:
        os.umask(old)
    assert "carol" in json.load(open(paths.purged)) and "carol" in json.load(open(paths.known_users))
    for path in (paths.purged, paths.known_users):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660, path


def test_world_readable_state_of_an_earlier_version_is_made_private(sandbox):
    paths = polled(sandbox)
    for path, text in ((paths.purged, '{"carol": ["2024-01"]}\n'), (paths.known_users, '["carol"]\n')):
        open(path, "w").write(text)
        os.chmod(path, 0o664)
    assert sandbox.run("poll", now="2024-04-10T12:10:00", options=OPTS)[0] == 0
    for path in (paths.purged, paths.known_users):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert json.load(open(paths.purged)) == {"carol": ["2024-01"]}

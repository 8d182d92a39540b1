"""Upgrading a root written by the first release (tests/fixtures/v1-root, made by tools/make_v1_root.py with
that release's pyz): every month is re-read in replace mode for the new figures, nothing lost or counted twice;
a month slurmdbd no longer has keeps its old numbers and is said to lack efficiency."""
import io
import json
import os
import shutil

from sb import cli
from test_collector import GOLDEN_DB, NOW, START, backfill

V1_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "v1-root")
MONTHS = ["2024-01", "2024-02", "2024-03"]


def upgraded_sandbox(sandbox, db=GOLDEN_DB):
    shutil.copytree(V1_ROOT, sandbox.root)
    sandbox.use_db(db)
    return sandbox


def manifest(sandbox):
    with open(os.path.join(sandbox.cluster_dir(), "state", "manifest.json")) as handle:
        return json.load(handle)


def poll(sandbox):
    return sandbox.run("poll", now=NOW, options=("rate_limit_per_min=0", START))


def board_json(sandbox, *args):
    out = io.StringIO()
    assert cli.main(["tui", "--root", sandbox.root, "--json", "--now", NOW] + list(args), out=out,
                    err=io.StringIO()) == 0
    return json.loads(out.getvalue())


def test_the_fixture_is_a_first_release_root():
    with open(os.path.join(V1_ROOT, "clusters", "hammer", "agg", "rollups", "daily", "2024-01.json")) as handle:
        assert '"req_mem_kib"' in handle.read()       # memory in KiB, no accounts: format 1


def test_poll_upgrades_one_month_per_tick_newest_first_then_equals_a_fresh_collection(sandbox, tmp_path):
    upgraded_sandbox(sandbox)
    code, out, err = poll(sandbox)
    assert code == 0, err
    doc = manifest(sandbox)
    assert doc["lacking"] == ["2024-01", "2024-02"] and sorted(doc["repull"]) == ["2024-01", "2024-02"]
    assert board_json(sandbox)["efficiency_gaps"] == {"hammer": "efficiency since 2024-03"}
    rereads = [c for c in sandbox.sacct_calls() if "-S" in c["argv"]]
    assert rereads[0]["argv"][rereads[0]["argv"].index("-S") + 1] == "2024-03-01T00:00:00"
    for _ in range(2):
        assert poll(sandbox)[0] == 0
    assert manifest(sandbox)["lacking"] == [] and manifest(sandbox)["repull"] == {}
    assert "efficiency_gaps" not in board_json(sandbox) or board_json(sandbox)["efficiency_gaps"] == {}
    # the same files as a fresh collection by this release: nothing lost, nothing counted twice
    fresh = type(sandbox)(tmp_path / "fresh", sandbox.monkeypatch)
    fresh.use_db(GOLDEN_DB)
    assert backfill(fresh)[0] == 0
    for sub in ("agg/rollups", "agg/users"):
        assert sandbox.files(sub) == fresh.files(sub), sub
    accounts = {row["account"] for row in board_json(sandbox, "--by", "account")["rows"]}
    assert "(unknown)" not in accounts and accounts


def test_backfill_upgrade_does_every_month_in_one_run(sandbox):
    upgraded_sandbox(sandbox)
    code, out, err = sandbox.run("backfill", "--upgrade", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0, err
    assert manifest(sandbox)["lacking"] == [] and manifest(sandbox)["repull"] == {}
    months = [c["argv"][c["argv"].index("-S") + 1][:7] for c in sandbox.sacct_calls()]
    assert months == ["2024-03", "2024-02", "2024-01"]     # the three re-reads and nothing else


def test_a_month_past_retention_keeps_its_first_release_numbers_and_says_it_lacks_efficiency(sandbox, tmp_path):
    purged = tmp_path / "purged.db"
    lines = open(GOLDEN_DB).read().splitlines(True)
    header, end = lines[0].split("|"), lines[0].split("|").index("End")
    january = {line.split("|")[1].split(".")[0] for line in lines[1:]
               if line.split("|")[end].isdigit() and "2024-01-01" <= _day(line.split("|")[end]) < "2024-02-01"}
    purged.write_text("".join([lines[0]] + [l for l in lines[1:] if l.split("|")[1].split(".")[0] not in january]))
    upgraded_sandbox(sandbox, str(purged))
    before = sandbox.monthly()["2024-01"]
    code, out, err = sandbox.run("backfill", "--upgrade", now=NOW, options=("rate_limit_per_min=0", START))
    assert code == 0 and "2024-01: re-read found 0 of" in err
    doc = manifest(sandbox)
    assert doc["lacking"] == ["2024-01"] and "without efficiency figures" in doc["kept"]["2024-01"]
    assert sandbox.monthly()["2024-01"] == before          # kept, never replaced by the short re-read
    assert board_json(sandbox)["efficiency_gaps"] == {"hammer": "efficiency since 2024-02"}
    out = io.StringIO()
    cli.main(["doctor", "--root", sandbox.root, "--cluster", "hammer", "-o", "sacct=" + sandbox.sacct], out=out,
             err=io.StringIO())
    assert "hammer: efficiency since 2024-02" in out.getvalue() and "2024-01" in out.getvalue()


def _day(epoch):
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))

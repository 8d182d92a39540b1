"""The collector's files, byte for byte: a full backfill of the demo clusters and of a generated multi-month
corpus (malformed lines, pieces, a poll and a rebuild after it) against digests stored from an earlier release.

A refactor must leave every file as it was (apart from `asof` and the clock-dependent state masked below). A
change that alters a file on purpose regenerates the digests with SB_UPDATE_DIGESTS=1 and says why in its
commit. The digests were first made with the code as of commit 0fadb69 (before the package re-layout).
"""
import gzip
import hashlib
import json
import os
import re

import pytest

from conftest import DEMO, Sandbox
from test_collector import generated_db

DIGESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "digests.json")
SKIPPED = {"state/lock.pid", "state/pacing.json", "state/visibility.json"}  # host, pid and wall-clock times
MASKS = (
    (re.compile(rb'"asof": ?"[^"]*"'), b'"asof":"*"'),
    (re.compile(rb'"crc32":"[0-9a-f]{8}"'), b'"crc32":"*"'),                    # covers the asof
    (re.compile(rb'"(last_success|watermark|coldstart_pos)": [0-9]+'), rb'"\1": *'),  # now - settle_sec
    (re.compile(rb'T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?'), b'T*'),   # problems.log: when, and windows ending at now - settle
)


def tree_digest(root):
    """{cluster/relative path: sha256} of every file a run left under root/clusters, masked."""
    digests = {}
    base = os.path.join(root, "clusters")
    for folder, _, names in os.walk(base):
        for name in names:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, base).replace(os.sep, "/")
            if rel.split("/", 1)[1] in SKIPPED:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if data[:2] == b"\x1f\x8b":     # a rollup: the digest is of its JSON, so asof can be masked
                data = gzip.decompress(data)
            for pattern, mask in MASKS:
                data = pattern.sub(mask, data)
            digests[rel] = hashlib.sha256(data).hexdigest()
    return digests


def _demo_backfill(box):
    for cluster in ("hammer", "negishi"):
        box.use_db(os.path.join(DEMO, cluster + ".db"), cluster)
        opts = ("rate_limit_per_min=0", "backfill_start=2025-09")
        assert box.run("backfill", cluster=cluster, now="2026-11-03T00:00:00", options=opts)[0] == 0


def _generated_backfill(box):
    db = str(box.tmp / "generated.db")
    generated_db(db, seed=11, jobs=4000, malformed_rate=0.01)   # 2024-01 .. 2024-03, bad lines in each
    box.use_db(db)
    opts = ("rate_limit_per_min=0", "backfill_start=2024-01")
    box.monkeypatch.setenv("SLURM_SB_PIECE_JOBS", "700")         # long months are committed in pieces
    assert box.run("backfill", now="2024-03-20T00:00:00", options=opts)[0] == 0
    assert box.run("poll", now="2024-04-02T00:00:00", options=opts)[0] == 0
    assert box.run("rebuild", now="2024-04-02T00:00:00", options=opts)[0] == 0


CASES = {"demo-backfill": _demo_backfill, "generated-backfill-poll-rebuild": _generated_backfill}


@pytest.mark.parametrize("case", sorted(CASES))
def test_files_are_byte_identical_to_the_stored_digests(case, tmp_path, monkeypatch):
    box = Sandbox(tmp_path, monkeypatch)
    CASES[case](box)
    got = tree_digest(box.root)
    stored = json.load(open(DIGESTS)) if os.path.exists(DIGESTS) else {}
    if os.environ.get("SB_UPDATE_DIGESTS"):
        stored[case] = got
        with open(DIGESTS, "w") as handle:
            json.dump(stored, handle, indent=1, sort_keys=True)
            handle.write("\n")
    assert len(got) > 20
    assert got == stored[case]

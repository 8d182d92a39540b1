"""state/manifest.json: which files a cluster must have, so a missing one is damage too, and what the
self-healing code owes: months queued for a re-pull, months kept from a short re-read, quarantined files.

It is staged into every transaction that writes or deletes a rollup, seen or user file, so it never
disagrees with them after a crash.
"""
import json
import os
import zlib

from sb.store.data import ClusterData, Damaged, listdir, parse_json
from sb.store.files import read_bytes
from sb.store.seal import seal, unseal


UPGRADE = "counted by the first release: re-read for efficiency, accounts and partitions"   # a re-pull's why
FORMAT = 2     # the files' format (store.rollups): a manifest without it may sit beside first-release months


def empty(cluster):
    """A new cluster's manifest. `lacking`: months whose figures were counted by the first release (no
    efficiency, accounts or partitions) and could not be re-read yet, or ever (past slurmdbd's retention)."""
    return {"schema_version": 1, "format": FORMAT, "cluster": cluster, "months": [], "seen": [],
            "users": users_digest([]), "repull": {}, "kept": {}, "quarantined": [], "lacking": []}


def efficiency_gap(manifest):
    """What a cluster's boards say of months without efficiency figures: "" when none, else e.g.
    "efficiency since 2025-03" (every later month has them) or "no efficiency before 2025-03 (2 months)"."""
    lacking = manifest.get("lacking") if isinstance(manifest, dict) else None
    if not lacking or not isinstance(lacking, list):
        return ""
    months = [m for m in manifest.get("months") or () if isinstance(m, str)]
    last = max(lacking)
    later = [m for m in months if m > last]
    if later:
        return "efficiency since {}".format(min(later))
    return "no efficiency figures yet ({} month{} to re-read)".format(len(lacking), "s" * (len(lacking) > 1))


def load(paths):
    """The stored manifest, or None when there is none. Damaged (store.data) when it cannot be read."""
    data = read_bytes(paths.manifest)
    if data is None:
        return None
    doc = parse_json(data, paths.manifest, check=unseal)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), t) for k, t in (
            ("months", list), ("seen", list), ("users", dict), ("repull", dict), ("kept", dict),
            ("quarantined", list))) or not isinstance(doc.setdefault("lacking", []), list):
        raise Damaged(paths.manifest, "not a manifest")
    doc.pop("crc32", None)   # the seal's own key: kept, it would be sealed again, so no two writes were ever alike
    return doc


def from_disk(paths):
    """A manifest made from what is on disk (a root written before manifests, or one whose manifest was
    lost): a month with a monthly rollup must also have its daily rollup; the seen files are those present."""
    manifest = empty(paths.cluster)
    del manifest["format"]      # what is on disk may be of the first release: heal.check looks
    daily = {n[:-5] for n in listdir(paths.daily_dir) if n.endswith(".json") and not n.startswith(".")}
    monthly = {n[:-5] for n in listdir(paths.monthly_dir) if n.endswith(".json") and not n.startswith(".")}
    manifest["months"] = sorted(daily | monthly)
    manifest["seen"] = sorted(seen_names(paths))
    manifest["users"] = users_digest(user_names(paths))
    return manifest


def to_json(manifest):
    return seal((json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def stage(tx, paths, manifest):
    """Bring `manifest` in line with the renames and deletes staged in `tx`, and stage it too."""
    months, seen = set(manifest["months"]), set(manifest["seen"])
    users, users_touched = None, False
    for final, present in [(b, True) for _, b in tx.renames] + [(p, False) for p in tx.deletes]:
        folder, name = os.path.split(final)
        if folder == paths.daily_dir and name.endswith(".json"):
            (months.add if present else months.discard)(name[:-5])
        elif folder == paths.seen_dir:
            (seen.add if present else seen.discard)(seen_month(name))
        elif folder == paths.users_dir and name.endswith(".json"):
            if users is None:
                users = set(user_names(paths))
            (users.add if present else users.discard)(name[:-5])
            users_touched = True
    manifest["months"], manifest["seen"] = sorted(months), sorted(seen)
    if users_touched:
        manifest["users"] = users_digest(users)
    data = to_json(manifest)
    if data != read_bytes(paths.manifest):
        tx.write(paths.manifest, data)


def users_digest(names):
    names = sorted(names)
    return {"count": len(names), "crc32": "%08x" % (zlib.crc32("\n".join(names).encode()) & 0xFFFFFFFF)}


def user_names(paths):
    return ClusterData(paths).users_on_disk()


def seen_names(paths):
    return {seen_month(n) for n in listdir(paths.seen_dir) if n.endswith(".seen") and not n.startswith(".")}


def seen_month(filename):
    """'submit-2024-03.seen' → '2024-03' (the month ClusterPaths.seen takes)."""
    name = filename.split(".", 1)[0]
    return name[len("submit-"):] if name.startswith("submit-") else name

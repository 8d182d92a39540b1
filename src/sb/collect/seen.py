"""Dedupe: job identities (JobIDRaw, Submit) → already counted or not, exactly, in memory that does not grow.

Sharding. The identities submitted in one UTC month live in `state/seen/submit-YYYY-MM.seen`, whatever
month their jobs ended in: Submit is part of the identity, so an identity's file never changes, and the
same identity returned later with an End in another month is found (issue 14). Why the Submit month and
not a JobIDRaw range: SLURM reuses job ids once MaxJobId wraps (67M by default). Keyed by id alone, every
job after a wrap would share its slot with an older one and need an exception entry; keyed by Submit
month, the two uses of an id land in different files unless a cluster wraps within one month. Inside a
month ids are dense and in Submit order (SLURM gives them out at submit), which the blocks exploit.

Format 3: magic, a fixed header (month, blocks, identities, CRC-32 of the header and the index), the index
(one entry per block: block number, identities, payload bytes, payload CRC-32), then the payloads. A block
holds the identities of 4,096 consecutive job ids (JobIDRaw >> 12). Its payload is zlib of
  - a bitmap of the job ids present (512 bytes);
  - for each of the 4,096 ids, the difference between its first Submit and the previous present id's, as
    8-byte integers split into byte planes (0 where an id is absent), so the high planes are all zeros;
  - the exception list: the further Submits of an id (requeued runs, an id reused within the month), sorted.
Decoding is zlib, slice copies and one C-level running sum: no Python bytecode per key. A lookup is one
bit test and one compare (plus the exception list, usually empty), so the answer is exact both ways: no
false "new" and no false "already counted". There is no Bloom filter.

Every block's CRC is checked before its bytes are used or copied into a new file; the header and index are
checked when the file is opened; any damage (wrong magic, truncation, flipped or zeroed bytes, a file under
another month's name) raises `Damaged(path, why)`, a `sb.store.data.Damaged` and a ValueError.

Memory is bounded: a reader holds the index (16 bytes a block) and at most CACHED_BLOCKS decoded blocks
(about 17 KiB each); a writer streams the file block by block and copies the blocks that gained nothing
as they are. A block's bytes depend only on its identities, so a file depends only on its set of
identities, not on the order or the number of commits that built it.

Upgrade: files of formats 1 and 2 (`state/seen/YYYY-MM.bloom`, by End month) are read by `upgrade()`,
which moves every identity of their exact records into format 3 files and deletes them in one journaled
transaction (see its docstring).
"""
import io
import json
import os
import struct
import sys
import zlib
from array import array
from heapq import merge
from itertools import accumulate, compress

from sb.store.data import Damaged as StoreDamaged
from sb.store.files import TMP_MARK, Transaction
from sb.timeutil import DAY, month_of_epoch, month_start, next_month

MAGIC = b"SBSEEN3\n"
HEAD = struct.Struct("<7sxIQI")      # month, blocks, identities, CRC-32 of magic + these fields + the index
ENTRY = struct.Struct("<IIII")       # block (JobIDRaw >> 12), identities, payload bytes, payload CRC-32
BLOCK_SHIFT = 44                     # key = JobIDRaw << 32 | Submit: a block is 4,096 consecutive job ids
BLOCK_IDS = 1 << (BLOCK_SHIFT - 32)
CACHED_BLOCKS = 64                   # decoded blocks kept per file
LEGACY_SUFFIX = ".bloom"             # formats 1 and 2, by End month: read only by upgrade()
_BITS, _PLANES = BLOCK_IDS // 8, 8 * BLOCK_IDS
_OFFSET, _SUBMIT = BLOCK_IDS - 1, 0xFFFFFFFF
_U16, _U32, _I32 = "H", ("I" if array("I").itemsize == 4 else "L"), ("i" if array("i").itemsize == 4 else "l")
_BIG = sys.byteorder == "big"
_EXPAND = [bytes((b >> i) & 1 for i in range(8)) for b in range(256)]   # a bitmap byte → 8 bytes of 0/1


class Damaged(StoreDamaged, ValueError):
    """A seen file that cannot be trusted; `path` names it, `why` says what is wrong."""

    def __init__(self, path, why):
        ValueError.__init__(self, "{}: {}".format(path, why))   # the message as seen's callers print it
        self.path, self.why = path, why


def shard_of(key):
    """The file (Submit month, 'YYYY-MM') that holds identity `key`."""
    return month_of_epoch(key & _SUBMIT)


class SeenShard:
    """The identities counted among the jobs submitted in one month: its file's plus the batch's in hand.

    `key in seen` looks in the batch's set, then in the key's block, decoded (and cached) on first use.
    Lookups of a stream in job id order decode each block once. Not thread-safe; `close()` closes the file.
    """

    def __init__(self, month, where=None):
        self.month = month
        self.where = where or month
        self.count = 0        # identities in the file
        self.added = set()
        self._index = {}      # block -> (identities, offset of its payload, payload bytes, payload CRC-32)
        self._source = None   # readable, seekable binary file holding the payloads
        self._decoded = {}    # block -> (bitmap, base, first Submits - base, {offset: further Submits} or None)

    # ---- reading ------------------------------------------------------------------------------

    @classmethod
    def open(cls, month, path):
        """The month's file if there is one, else an empty month. Damaged if the file is damaged."""
        try:
            source = open(path, "rb", buffering=0)
        except FileNotFoundError:
            return cls(month, path)
        try:
            return cls._load(month, source, path)
        except BaseException:
            source.close()
            raise

    @classmethod
    def from_bytes(cls, month, data, where):
        return cls._load(month, io.BytesIO(data), where)

    @classmethod
    def _load(cls, month, source, where):
        seen = cls(month, where)
        head = source.read(len(MAGIC) + HEAD.size)
        if head[:len(MAGIC)] != MAGIC and not MAGIC.startswith(head):
            raise Damaged(where, "not a format 3 seen file (magic {!r})".format(head[:len(MAGIC)]))
        if len(head) != len(MAGIC) + HEAD.size:
            raise Damaged(where, "truncated in its header")
        name, blocks, total, crc = HEAD.unpack_from(head, len(MAGIC))
        if blocks > 1 << (64 - BLOCK_SHIFT):
            raise Damaged(where, "header claims {} blocks".format(blocks))
        raw = source.read(ENTRY.size * blocks)
        if len(raw) != ENTRY.size * blocks:
            raise Damaged(where, "truncated in its index")
        if zlib.crc32(raw, zlib.crc32(head[:-4])) != crc:
            raise Damaged(where, "header or index fails its checksum")
        if name != month.encode("ascii", "replace"):
            raise Damaged(where, "holds month {!r}, not {}".format(name.decode("ascii", "replace"), month))
        offset, count, last = len(head) + len(raw), 0, -1
        for block, keys, size, block_crc in ENTRY.iter_unpack(raw):
            if block <= last or not keys or not size:
                raise Damaged(where, "index is inconsistent at block {}".format(block))
            seen._index[block] = (keys, offset, size, block_crc)
            offset, count, last = offset + size, count + keys, block
        size = source.seek(0, 2)
        if count != total or size != offset:
            raise Damaged(where, "{} bytes for {} identities, the index says {} bytes for {}: truncated or "
                                 "damaged".format(size, total, offset, count))
        seen.count, seen._source = total, source
        return seen

    def close(self):
        if self._source is not None:
            self._source.close()
            self._source = None

    def __contains__(self, key):
        if key in self.added:
            return True
        block = key >> BLOCK_SHIFT
        decoded = self._decoded.get(block)
        if decoded is None:
            entry = self._index.get(block)
            if entry is None:
                return False
            decoded = self._block(block, entry)
        bits, base, firsts, further = decoded
        offset = (key >> 32) & _OFFSET
        if not bits[offset >> 3] >> (offset & 7) & 1:
            return False
        submit = key & _SUBMIT
        return firsts[offset] == submit - base or (further is not None and submit in further.get(offset, ()))

    def keys(self):
        """Every identity of the file and the batch, ascending (one block decoded at a time)."""
        return _unique(merge(self._file_keys(), sorted(self.added)))

    def _file_keys(self):
        for block in sorted(self._index):
            for key in _keys(block, self._block(block, self._index[block], keep=False)):
                yield key

    def verify(self):
        """Check every block's checksum and encoding (Damaged if one fails); what a scan for damage calls."""
        for block in sorted(self._index):
            self._block(block, self._index[block], keep=False)

    def _block(self, block, entry, keep=True):
        decoded = self._decoded.get(block)
        if decoded is None:
            try:
                decoded = _decode(self._payload(block, entry), entry[0])
            except (ValueError, OverflowError, zlib.error) as err:
                raise Damaged(self.where, "block {} (job ids {}..): {}".format(block, block << 12, err))
            if keep:
                if len(self._decoded) >= CACHED_BLOCKS:
                    del self._decoded[next(iter(self._decoded))]
                self._decoded[block] = decoded
        return decoded

    def _payload(self, block, entry):
        """A block's payload, its checksum checked."""
        self._source.seek(entry[1])
        data = self._source.read(entry[2])
        if len(data) != entry[2]:
            raise Damaged(self.where, "truncated in block {}".format(block))
        if zlib.crc32(data) != entry[3]:
            raise Damaged(self.where, "block {} (job ids {}..) fails its checksum".format(block, block << 12))
        return data

    # ---- writing ------------------------------------------------------------------------------

    def add(self, key):
        self.added.add(key)

    def write(self, out):
        """Write the month's file (its identities and the batch's) to the seekable binary file `out`.

        Blocks that gained identities are encoded again; the others are copied as they are, their
        checksums checked first, so damage is never carried into a new file."""
        new, low, high = {}, month_start(self.month), month_start(next_month(self.month))
        for key in sorted(self.added):
            if not low <= key & _SUBMIT < high:
                raise ValueError("identity {:#x} was not submitted in {}".format(key, self.month))
            new.setdefault(key >> BLOCK_SHIFT, []).append(key)
        blocks = sorted(set(self._index) | set(new))
        start = out.tell()
        out.write(bytes(len(MAGIC) + HEAD.size + ENTRY.size * len(blocks)))
        entries = []
        for block in blocks:
            old = self._index.get(block)
            if block not in new:
                payload, count = self._payload(block, old), old[0]
            else:
                keys = new[block]
                if old:
                    keys = merge(_keys(block, self._block(block, old, keep=False)), keys)
                count, payload = _encode(keys)
            out.write(payload)
            entries.append((block, count, len(payload), zlib.crc32(payload)))
        out.seek(start)
        out.write(_header(self.month, entries))
        out.seek(0, 2)

    def to_bytes(self):
        out = io.BytesIO()
        self.write(out)
        return out.getvalue()


def _header(month, entries):
    """Magic, header and index of a file with these (block, identities, bytes, CRC) entries."""
    index = b"".join(ENTRY.pack(*entry) for entry in entries)
    fields = MAGIC + HEAD.pack(month.encode("ascii"), len(entries), sum(e[1] for e in entries), 0)[:-4]
    return fields + struct.pack("<I", zlib.crc32(index, zlib.crc32(fields))) + index


def _unique(keys):
    last = None
    for key in keys:
        if key != last:
            yield key
            last = key


def _encode(keys):
    """Ascending identities of one block (repeats dropped) → (identities, payload)."""
    bits, deltas = bytearray(_BITS), array("q", bytes(_PLANES))
    further_at, further = array(_U16), array(_U32)
    count, last_key, last_offset, last_submit = 0, None, -1, 0
    for key in keys:
        if key == last_key:
            continue
        count, last_key = count + 1, key
        offset, submit = (key >> 32) & _OFFSET, key & _SUBMIT
        if offset == last_offset:   # another run of the same job id: its Submit is later (keys ascend)
            further_at.append(offset)
            further.append(submit)
            continue
        bits[offset >> 3] |= 1 << (offset & 7)
        deltas[offset] = submit - last_submit
        last_offset, last_submit = offset, submit
    if _BIG:
        for column in (deltas, further_at, further):
            column.byteswap()
    raw = deltas.tobytes()
    planes = [raw[plane::8] for plane in range(8)]
    return count, zlib.compress(b"".join([bytes(bits)] + planes + [further_at.tobytes(), further.tobytes()]), 9)


def _decode(payload, count):
    """A block's payload → (bitmap, base, first Submit of every offset - base, {offset: further Submits} or
    None). base is the first present id's Submit: the running sum then stays small (a Submit month is
    2.7M s), which CPython sums several times faster than epochs past 2^30."""
    raw = zlib.decompress(payload)
    bits = raw[:_BITS]
    mask = int.from_bytes(bits, "little")
    present = bin(mask).count("1")
    extra = count - present
    if not present or extra < 0 or len(raw) != _BITS + _PLANES + 6 * extra:
        raise ValueError("{} bytes for {} identities of {} job ids".format(len(raw), count, present))
    planes = bytearray(_PLANES)
    for plane in range(8):
        planes[plane::8] = raw[_BITS + plane * BLOCK_IDS:_BITS + (plane + 1) * BLOCK_IDS]
    deltas = array("q")
    deltas.frombytes(planes)
    if _BIG:
        deltas.byteswap()
    first = (mask & -mask).bit_length() - 1
    base, deltas[first] = deltas[first], 0
    if not 0 <= base <= _SUBMIT:
        raise ValueError("first Submit {} out of range".format(base))
    firsts = array(_I32, accumulate(deltas))   # OverflowError if the deltas are damaged
    if not extra:
        return bits, base, firsts, None
    at, submits = array(_U16), array(_U32)
    rest = _BITS + _PLANES
    at.frombytes(raw[rest:rest + 2 * extra])
    submits.frombytes(raw[rest + 2 * extra:])
    if _BIG:
        at.byteswap()
        submits.byteswap()
    further = {}
    for offset, submit in zip(at, submits):
        if not bits[offset >> 3] >> (offset & 7) & 1 or submit <= firsts[offset] + base:
            raise ValueError("exception list names job id offset {} wrongly".format(offset))
        further.setdefault(offset, set()).add(submit)
    return bits, base, firsts, further


def _keys(block, decoded):
    """A decoded block → its identities, ascending."""
    bits, submit_base, firsts, further = decoded
    base = block << BLOCK_SHIFT
    offsets = compress(range(BLOCK_IDS), b"".join([_EXPAND[b] for b in bits]))
    if further is None:
        return [base | offset << 32 | (firsts[offset] + submit_base) for offset in offsets]
    keys = []
    for offset in offsets:
        keys.append(base | offset << 32 | (firsts[offset] + submit_base))
        keys.extend(base | offset << 32 | submit for submit in sorted(further.get(offset, ())))
    return keys


# ---- upgrade from formats 1 and 2 (state/seen/YYYY-MM.bloom, by End month) ---------------------------

def upgrade(paths):
    """Move every identity of the format 1/2 files under `paths.seen_dir` into format 3 files, exactly.

    One journaled transaction stages the new files (merged with any format 3 file already there) and
    deletes the old ones, so a crash leaves the old files or the new ones, never a mix; the next run
    sweeps the temps or finishes the journal. The old files go: their exact records hold nothing the
    new files lack, and keeping them would cost the disk the upgrade saves. Memory stays bounded: the
    old files are merged block by block (4,096 job ids at a time) and each month's new blocks are staged
    in a scratch temp file. Returns the number of old files replaced (0: nothing to do)."""
    old = sorted(n for n in os.listdir(paths.seen_dir) if n.endswith(LEGACY_SUFFIX) and not n.startswith("."))
    if not old:
        return 0
    sources, scratch = [], {}
    try:
        sources += [_Legacy(os.path.join(paths.seen_dir, name)) for name in old]
        for name in sorted(os.listdir(paths.seen_dir)):
            if name.startswith("submit-") and name.endswith(".seen"):
                month = name[len("submit-"):-len(".seen")]
                sources.append(_Current(SeenShard.open(month, paths.seen(month))))
        months = {}
        for block in sorted(set().union(*(source.blocks() for source in sources))):
            parts = {}
            for key in _unique(merge(*(source.keys(block) for source in sources))):
                day = (key & _SUBMIT) // DAY
                month = months.get(day)
                if month is None:
                    month = months[day] = month_of_epoch(day * DAY)
                parts.setdefault(month, []).append(key)
            for month, keys in parts.items():
                if month not in scratch:
                    scratch[month] = _Scratch(paths, month)
                scratch[month].add(block, keys)
        tx = Transaction(paths)
        for month in sorted(scratch):
            tx.write_with(paths.seen(month), scratch[month].write)
        for name in old:
            tx.delete(os.path.join(paths.seen_dir, name))
        tx.commit()
    finally:
        for source in sources:
            source.close()
        for part in scratch.values():
            part.discard()
    return len(old)


class _Scratch:
    """One new month's blocks, staged in a temp file (swept by recovery after a crash) until the index is known."""

    def __init__(self, paths, month):
        self.month, self.entries = month, []
        self.path = os.path.join(paths.seen_dir, ".upgrade-{}{}{}".format(month, TMP_MARK, os.getpid()))
        self.handle = open(self.path, "w+b")

    def add(self, block, keys):
        count, payload = _encode(keys)
        self.handle.write(payload)
        self.entries.append((block, count, len(payload), zlib.crc32(payload)))

    def write(self, out):
        out.write(_header(self.month, self.entries))
        self.handle.seek(0)
        while True:
            chunk = self.handle.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)

    def discard(self):
        self.handle.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class _Current:
    """A format 3 file as an upgrade source (an older collector ran again after an upgrade)."""

    def __init__(self, shard):
        self.shard = shard

    def blocks(self):
        return set(self.shard._index)

    def keys(self, block):
        entry = self.shard._index.get(block)
        return _keys(block, self.shard._block(block, entry, keep=False)) if entry else ()

    def close(self):
        self.shard.close()


class _Legacy:
    """A format 1 or 2 file, read for its exact records only (its Bloom filters are skipped).

    Format 2: magic, JSON header line, index of (block, keys, Bloom bits, record bytes, 0) entries, then
    per block the Bloom filter and zlib of the id-offset deltas (2 bytes) and the Submits (4 bytes).
    Format 1: magic, JSON header line, one Bloom filter, zlib of job-id and Submit deltas (8 bytes each)
    for the whole month, decoded whole (as the release that read it did)."""

    V2, V1 = b"SBSEEN2\n", b"SBSEEN1\n"
    ENTRY = struct.Struct("<QIIII")

    def __init__(self, path):
        self.path, self.index, self.whole = path, {}, None
        self.handle = open(path, "rb")
        magic = self.handle.read(len(self.V2))
        line = self.handle.readline(4096)
        try:
            header = json.loads(line.decode())
            if magic not in (self.V1, self.V2) or not line.endswith(b"\n"):
                raise ValueError("bad magic or header")
            if magic == self.V1:
                self._load_v1(header)
            else:
                self._load_v2(header)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, zlib.error) as err:
            self.close()
            raise Damaged(path, "not a readable format 1/2 seen file ({})".format(err))

    def _load_v2(self, header):
        raw = self.handle.read(self.ENTRY.size * header["blocks"])
        if len(raw) != self.ENTRY.size * header["blocks"]:
            raise ValueError("truncated index")
        offset = self.handle.tell()
        for block, keys, m, exact, _ in self.ENTRY.iter_unpack(raw):
            self.index[block] = (keys, offset + (m + 7) // 8, exact)
            offset += (m + 7) // 8 + exact
        if self.handle.seek(0, 2) != offset or sum(e[0] for e in self.index.values()) != header["n"]:
            raise ValueError("truncated or damaged")

    def _load_v1(self, header):
        self.handle.seek((header["m"] + 7) // 8, 1)
        raw = zlib.decompress(self.handle.read())
        count = header["n"]
        if len(raw) != 16 * count:
            raise ValueError("exact record holds {} bytes, expected {}".format(len(raw), 16 * count))
        ids, submits = array("Q"), array("q")
        ids.frombytes(raw[:8 * count])
        submits.frombytes(raw[8 * count:])
        ids, submits = list(accumulate(ids)), list(accumulate(submits))
        if count and not (max(ids) < 1 << 32 and 0 <= min(submits) and max(submits) <= _SUBMIT):
            raise ValueError("exact record holds job ids or Submits out of range")
        self.whole = {}
        for key in sorted(i << 32 | s for i, s in zip(ids, submits)):
            self.whole.setdefault(key >> BLOCK_SHIFT, []).append(key)

    def blocks(self):
        return set(self.whole if self.whole is not None else self.index)

    def keys(self, block):
        if self.whole is not None:
            return self.whole.get(block, ())
        entry = self.index.get(block)
        if entry is None:
            return ()
        count, offset, size = entry
        self.handle.seek(offset)
        try:
            raw = zlib.decompress(self.handle.read(size))
            if len(raw) != 6 * count:
                raise ValueError("exact record holds {} bytes, expected {}".format(len(raw), 6 * count))
        except (ValueError, zlib.error) as err:
            raise Damaged(self.path, "exact record of block {} is damaged ({})".format(block, err))
        deltas, submits = array(_U16), array(_U32)
        deltas.frombytes(raw[:2 * count])
        submits.frombytes(raw[2 * count:])
        if _BIG:
            deltas.byteswap()
            submits.byteswap()
        base = block << BLOCK_SHIFT
        return sorted(base | offset << 32 | submit for offset, submit in zip(accumulate(deltas), submits))

    def close(self):
        self.handle.close()

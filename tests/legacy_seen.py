"""The seen-file writer and reader of releases before format 3, kept verbatim (commit 7debf34) so tests can build
a root exactly as the old collector left it (state/seen/YYYY-MM.bloom, by End month) and check its upgrade.

Original docstring: Dedupe: which job identities a cluster has already counted, per month, in memory that does not grow.

File `state/seen/YYYY-MM.bloom` (format 2): a magic line, a JSON header line (k, m, n, fp rate, blocks), an
index (one fixed-size entry per block), then each block's Bloom filter and exact record. A block holds the
identities of 4,096 consecutive job ids (JobIDRaw >> 12). Its Bloom filter is sized to its own keys (rate
`fp_rate`, k probes); its exact record is zlib of the sorted identities as two little-endian columns: the
deltas of the job ids' offsets in the block (2 bytes each) and the Submit epochs (4 bytes). Decoding a
block is zlib, array copies and one C-level running sum, with no Python bytecode per key. The Bloom
answers "certainly new" for a block not yet decoded; a "maybe" is always confirmed against the exact
record, so a false positive can never drop a real job.

Memory is bounded whatever the month's size: a reader holds the index (24 bytes a block) and a few
decoded blocks; a writer streams the file block by block and copies the blocks that gained nothing as
they are. Each block's bytes depend only on its keys, so the file depends only on the set of identities,
not on the order or the number of commits that built it.

Format 1 files (one Bloom filter and one exact record for the whole month) are still read, and are
written as format 2 when their month next gains a job.
"""
import json
import math
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from heapq import merge
from itertools import accumulate

MAGIC = b"SBSEEN2\n"
MAGIC_V1 = b"SBSEEN1\n"
_M64 = (1 << 64) - 1
BLOCK_SHIFT = 44                      # key = JobIDRaw << 32 | Submit: a block is 4,096 consecutive job ids
ENTRY = struct.Struct("<QIIII")       # block, keys, Bloom bits m, exact record bytes, reserved (0)
CACHED_BLOCKS = 64                    # decoded blocks (about 24 KiB each) and Bloom filters kept per month
_U16, _U32 = "H", ("I" if array("I").itemsize == 4 else "L")
_OFFSET = (1 << (BLOCK_SHIFT - 32)) - 1


def _mix(key):
    """splitmix64 finaliser: spreads consecutive job ids over the whole filter."""
    z = (key + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def probes(fp_rate):
    """k, the number of bits per key, optimal for the target false-positive rate."""
    return max(1, int(round(-math.log(fp_rate) / math.log(2))))


def bloom_bits(count, fp_rate):
    """m, the filter size in bits that gives `count` keys the target false-positive rate."""
    return max(64, int(math.ceil(-count * math.log(fp_rate) / math.log(2) ** 2)))


def bloom_of(keys, m, k):
    bits = bytearray((m + 7) // 8)
    for key in keys:
        h = _mix(key)
        h1, h2 = h >> 32, (h & 0xFFFFFFFF) | 1
        for _ in range(k):
            p = h1 % m
            bits[p >> 3] |= 1 << (p & 7)
            h1 += h2
    return bits


def bloom_has(bits, m, k, key):
    h = _mix(key)
    h1, h2 = h >> 32, (h & 0xFFFFFFFF) | 1
    for _ in range(k):
        p = h1 % m
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        h1 += h2
    return True


class SeenMonth:
    """The identities counted for one month: those in its file plus those added by the batch in hand.

    `key in seen` looks in the batch's set, then in the key's block: the decoded block if it is cached,
    else the block's Bloom filter and, on a "maybe", the block decoded (and cached). Lookups of a stream
    in job id order touch each block once. Not thread-safe; `close()` (or dropping it) closes the file.
    """

    def __init__(self, month, fp_rate, where=None):
        self.month = month
        self.where = where or month
        self.fp_rate = fp_rate
        self.k = probes(fp_rate)
        self.file_k, self.file_fp_rate = self.k, fp_rate
        self.count = 0
        self.added = set()
        self._index = {}      # block -> (keys, m, offset of its Bloom filter, exact record bytes)
        self._source = None   # readable, seekable binary file holding the blocks
        self._decoded = {}    # block -> (id offsets, submits): its sorted keys (at most CACHED_BLOCKS, oldest dropped)
        self._blooms = {}     # block -> its Bloom filter's bytes (likewise)
        self._legacy = False  # format 1: every block decoded at load, nothing to read later

    # ---- reading ------------------------------------------------------------------------------

    @classmethod
    def open(cls, month, path, fp_rate):
        """The month's file if there is one, else an empty month. ValueError if the file is damaged."""
        try:
            source = open(path, "rb", buffering=0)
        except FileNotFoundError:
            return cls(month, fp_rate, path)
        try:
            return cls._load(month, source, fp_rate, path)
        except BaseException:
            source.close()
            raise

    @classmethod
    def from_bytes(cls, month, data, fp_rate, where):
        import io
        return cls._load(month, io.BytesIO(data), fp_rate, where)

    @classmethod
    def _load(cls, month, source, fp_rate, where):
        seen = cls(month, fp_rate, where)
        head = source.read(len(MAGIC))
        if head == MAGIC_V1:
            seen._load_v1(source.read())
            source.close()
            return seen
        if head != MAGIC:
            raise ValueError("{}: not a seen file (bad magic)".format(where))
        header = json.loads(_line(source, where).decode())
        if not all(isinstance(header.get(f), int) and header[f] >= 0 for f in ("k", "m", "n", "blocks")):
            raise ValueError("{}: header {!r} lacks whole numbers k, m, n, blocks".format(where, header))
        raw = source.read(ENTRY.size * header["blocks"])
        if len(raw) != ENTRY.size * header["blocks"]:
            raise ValueError("{}: truncated index".format(where))
        offset = source.tell()
        total, last = 0, -1
        for block, keys, m, exact, _ in ENTRY.iter_unpack(raw):
            if block <= last or not keys or m < 64:
                raise ValueError("{}: index is damaged at block {}".format(where, block))
            seen._index[block] = (keys, m, offset, exact)
            offset += (m + 7) // 8 + exact
            total, last = total + keys, block
        size = source.seek(0, 2)
        if total != header["n"] or size != offset:
            raise ValueError("{}: {} bytes for {} keys, expected {} bytes for {}: the file is truncated or "
                             "damaged".format(where, size, total, offset, header["n"]))
        seen.count, seen.file_k, seen.file_fp_rate = total, header["k"], header.get("fp_rate")
        seen._source = source
        return seen

    def _load_v1(self, rest):
        newline = rest.index(b"\n")
        header = json.loads(rest[:newline].decode())
        if not all(isinstance(header.get(f), int) and header[f] >= 0 for f in ("k", "m", "n", "capacity")):
            raise ValueError("{}: header {!r} lacks whole numbers k, m, n, capacity".format(self.where, header))
        blob = rest[newline + 1 + (header["m"] + 7) // 8:]
        try:
            keys = _decode_v1(blob, header["n"])
        except (ValueError, zlib.error) as err:
            raise ValueError("{}: exact record is damaged ({})".format(self.where, err))
        self._legacy, self.count = True, len(keys)
        start = 0
        while start < len(keys):
            block = keys[start] >> BLOCK_SHIFT
            end = bisect_left(keys, (block + 1) << BLOCK_SHIFT, start)
            self._decoded[block] = _columns(keys[start:end])
            self._index[block] = (end - start, 0, 0, 0)
            start = end

    def close(self):
        if self._source is not None:
            self._source.close()
            self._source = None

    def __contains__(self, key):
        if key in self.added:
            return True
        block = key >> BLOCK_SHIFT
        columns = self._decoded.get(block)
        if columns is None:
            entry = self._index.get(block)
            if entry is None or not self._maybe(block, entry, key):
                return False
            columns = self._block_columns(block, entry)
        offsets, submits = columns
        offset, submit = (key >> 32) & _OFFSET, key & 0xFFFFFFFF
        i, n = bisect_left(offsets, offset), len(offsets)
        while i < n and offsets[i] == offset:  # one id has one key per run (requeues): a short scan
            if submits[i] == submit:
                return True
            i += 1
        return False

    def maybe(self, key):
        """The Bloom filter's answer alone (False: certainly not in the file)."""
        block = key >> BLOCK_SHIFT
        entry = self._index.get(block)
        if entry is None:
            return False
        if self._legacy:
            return key in self
        return self._maybe(block, entry, key)

    def _maybe(self, block, entry, key):
        if self._legacy:
            return True
        bits = self._blooms.get(block)
        if bits is None:
            bits = _keep(self._blooms, block, self._read(entry[2], (entry[1] + 7) // 8))
        return bloom_has(bits, entry[1], self.file_k, key)

    def _block_columns(self, block, entry, keep=True):
        columns = self._decoded.get(block)
        if columns is None:
            count, m, offset, exact = entry
            blob = self._read(offset + (m + 7) // 8, exact)
            try:
                columns = _decode(blob, count)
            except (ValueError, zlib.error) as err:
                raise ValueError("{}: exact record of block {} is damaged ({}); restore the file from "
                                 "backup".format(self.where, block, err))
            if keep:
                _keep(self._decoded, block, columns)
        return columns

    def _read(self, offset, size):
        self._source.seek(offset)
        data = self._source.read(size)
        if len(data) != size:
            raise ValueError("{}: truncated at byte {}".format(self.where, offset))
        return data

    # ---- writing ------------------------------------------------------------------------------

    def add(self, key):
        self.added.add(key)

    def write(self, out):
        """Write the month's file (its keys and the batch's) to the seekable binary file `out`.

        Blocks that gained keys are re-encoded with a fresh Bloom filter sized to their keys; the others
        are copied as they are (re-encoded only if the rate changed or the file is format 1)."""
        new = {}
        for key in sorted(self.added):
            new.setdefault(key >> BLOCK_SHIFT, []).append(key)
        reuse = not self._legacy and self.file_k == self.k and self.file_fp_rate == self.fp_rate
        entries = []
        for block in sorted(set(self._index) | set(new)):
            old = self._index.get(block)
            count = (old[0] if old else 0) + len(new.get(block, ()))
            if old and reuse and block not in new:
                entries.append([block, count, old[1], old[3], 0])
            else:
                entries.append([block, count, bloom_bits(count, self.fp_rate), 0, 0])
        header = {"blocks": len(entries), "format": 2, "fp_rate": self.fp_rate, "k": self.k,
                  "m": sum(e[2] for e in entries), "month": self.month, "n": sum(e[1] for e in entries)}
        out.write(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n")
        index_at = out.tell()
        out.write(bytes(ENTRY.size * len(entries)))
        for entry in entries:
            block, count, m = entry[:3]
            old = self._index.get(block)
            if old and reuse and block not in new:
                out.write(self._read(old[2], (old[1] + 7) // 8 + old[3]))
                continue
            keys = _keys(block, self._block_columns(block, old, keep=False)) if old else []  # read once
            if block in new:
                keys = list(merge(keys, new[block])) if old else new[block]
            exact = _encode(keys)
            out.write(bloom_of(keys, m, self.k))
            out.write(exact)
            entry[3] = len(exact)
        out.seek(index_at)
        out.write(b"".join(ENTRY.pack(*entry) for entry in entries))
        out.seek(0, 2)

    def to_bytes(self):
        import io
        out = io.BytesIO()
        self.write(out)
        return out.getvalue()


def _keep(cache, block, value):
    if len(cache) >= CACHED_BLOCKS:
        del cache[next(iter(cache))]
    cache[block] = value
    return value


def _line(source, where):
    data = b""
    while b"\n" not in data:
        more = source.read(256)
        if not more:
            raise ValueError("{}: truncated header".format(where))
        data += more
        if len(data) > 4096:
            raise ValueError("{}: header line too long".format(where))
    end = data.index(b"\n")
    source.seek(source.tell() - (len(data) - end - 1))
    return data[:end]


def _columns(keys):
    """Sorted keys of one block -> (id offsets, submits) arrays."""
    return (array(_U16, ((k >> 32) & _OFFSET for k in keys)), array(_U32, (k & 0xFFFFFFFF for k in keys)))


def _keys(block, columns):
    base = block << BLOCK_SHIFT
    return [base | offset << 32 | submit for offset, submit in zip(*columns)]


def _encode(keys):
    """Sorted identities of one block -> zlib of the id-offset deltas (2 bytes) and the Submit column (4).
    Offsets of consecutive job ids differ by 1, so their deltas compress to almost nothing."""
    offsets, submits = _columns(keys)
    deltas = array(_U16, offsets[:1])
    deltas.extend(b - a for a, b in zip(offsets, offsets[1:]))
    if sys.byteorder == "big":
        deltas.byteswap()
        submits.byteswap()
    return zlib.compress(deltas.tobytes() + submits.tobytes(), 6)


def _decode(blob, count):
    raw = zlib.decompress(blob)
    if len(raw) != 6 * count:
        raise ValueError("exact record holds {} bytes, expected {}".format(len(raw), 6 * count))
    offsets, submits = array(_U16), array(_U32)
    offsets.frombytes(raw[:2 * count])
    submits.frombytes(raw[2 * count:])
    if sys.byteorder == "big":
        offsets.byteswap()
        submits.byteswap()
    return array(_U16, accumulate(offsets)), submits


def _decode_v1(blob, count):
    """Format 1's exact record: zlib of job-id deltas and submit deltas (native 8-byte columns)."""
    raw = zlib.decompress(blob) if blob else b""
    if len(raw) != 16 * count:
        raise ValueError("exact record holds {} bytes, expected {}".format(len(raw), 16 * count))
    ids, submits = array("Q"), array("q")
    ids.frombytes(raw[:8 * count])
    submits.frombytes(raw[8 * count:])
    return array("Q", (i << 32 | s for i, s in zip(accumulate(ids), accumulate(submits))))

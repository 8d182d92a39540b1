"""Stage 2, sacct text → values: unit, TRES, state and user parsers for one sacct line's fields."""
from sb.names import BadField

# Powers of 1024 relative to KiB, the unit every memory figure is kept in (exact integers; MB = KiB/1024).
_KIB_PER_UNIT = {"K": 1, "M": 1024, "G": 1024 ** 2, "T": 1024 ** 3, "P": 1024 ** 4}
NOT_STARTED = frozenset(("", "0", "Unknown", "None"))
# SLURM's NO_VAL64 (2**64) shows up as ReqMem 18446744073709551616.00M for a job submitted while slurmdbd
# was down: "unknown", not 16 EiB. No real request comes near this bound (1 EiB).
UNKNOWN_REQUEST_KIB = 1 << 50


def to_kib(text, field, bare_unit):
    """'123456K', '1.5G', '219459584' → KiB (int). A bare number is in `bare_unit` ('B' or 'M')."""
    if not text:
        return 0
    unit = text[-1].upper()
    number = text[:-1] if unit in _KIB_PER_UNIT else text
    if unit not in _KIB_PER_UNIT:
        unit = bare_unit
    count = _int_or_none(number)
    if count is not None:
        return (count + 512) // 1024 if unit == "B" else count * _KIB_PER_UNIT[unit]
    try:
        value = float(number)
    except ValueError:
        raise BadField(field, text, "not a memory size")
    if not 0 <= value < float("inf"):
        raise BadField(field, text, "not a memory size")
    return int(round(value / 1024 if unit == "B" else value * _KIB_PER_UNIT[unit]))


def _int_or_none(text):
    """int of a string of digits, else None (rejects signs, spaces, superscripts, absurd lengths)."""
    if text.isdigit():
        try:
            return int(text)
        except ValueError:  # e.g. '²' is a digit to isdigit() but not to int()
            return None
    return None


def rss_kib(text, field="MaxRSS"):
    """MaxRSS/AveRSS: with --noconvert a bare number is bytes."""
    return to_kib(text, field, "B")


def req_mem_kib(req_mem, req_tres, cpus, nodes):
    """Requested memory of a job: mem= of ReqTRES, else ReqMem (suffix c: per CPU, n: per node);
    0 when SLURM recorded it as unknown (NO_VAL)."""
    per_unit = _req_mem_per_unit(req_mem, req_tres)
    if per_unit >= UNKNOWN_REQUEST_KIB:
        return 0
    scope = "" if tres_value(req_tres, "mem=") is not None else req_mem[-1:]
    return per_unit * cpus if scope == "c" else per_unit * nodes if scope == "n" else per_unit


def _req_mem_per_unit(req_mem, req_tres):
    tres_mem = tres_value(req_tres, "mem=")
    if tres_mem is not None:
        return to_kib(tres_mem, "ReqTRES", "M")
    if not req_mem:
        return 0
    if req_mem[-1] in "cn":
        return to_kib(req_mem[:-1], "ReqMem", "M")
    return to_kib(req_mem, "ReqMem", "M")


def tres_value(tres, prefix):
    """Value of the first `prefix` token ('mem=') in a comma-separated TRES string, or None."""
    if prefix not in tres:
        return None
    for token in tres.split(","):
        if token.startswith(prefix):
            return token[len(prefix):]
    return None


def gpu_count(alloc_tres):
    """GPUs of an AllocTRES: the untyped gres/gpu=N, else the sum of typed gres/gpu:<type>=N."""
    if "gres/gpu" not in alloc_tres:
        return 0
    untyped, typed = None, 0
    for token in alloc_tres.split(","):
        if not token.startswith("gres/gpu"):
            continue
        rest = token[8:]  # gres/gpumem= and gres/gpuutil= fall through: they are neither '=' nor ':'
        if rest.startswith("="):
            untyped = _count(rest[1:], token)
        elif rest.startswith(":"):
            typed += _count(rest.partition("=")[2], token)
    return typed if untyped is None else untyped


def _count(text, token):
    count = _int_or_none(text)
    if count is None:
        raise BadField("AllocTRES", token, "GPU count is not a whole number")
    return count


def whole(text, field):
    """A non-negative integer field (ElapsedRaw, AllocCPUS, NNodes, epochs)."""
    number = _int_or_none(text)
    if number is None:
        raise BadField(field, text, "not a whole number")
    return number


def state_word(state):
    """'CANCELLED by 123' → 'CANCELLED'."""
    return state.split(" ", 1)[0].upper()

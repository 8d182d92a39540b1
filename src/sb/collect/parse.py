"""Stage 2, sacct text → values: unit, TRES, state and user parsers for one sacct line's fields."""
import re

from sb.names import BadField

# Powers of 1024: every memory figure is kept in bytes (exact integers; MB = bytes / 2**20).
_BYTES_PER_UNIT = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
NOT_STARTED = frozenset(("", "0", "Unknown", "None"))
# SLURM's NO_VAL64 (2**64) shows up as ReqMem 18446744073709551616.00M for a job submitted while slurmdbd
# was down: "unknown", not 16 EiB. No real request comes near this bound (1 EiB).
UNKNOWN_REQUEST_BYTES = 1 << 60
# TimelimitRaw values that are no limit: INFINITE, NO_VAL (the partition's), or a limit sacct cannot print.
NO_TIME_LIMIT = frozenset(("", "UNLIMITED", "Partition_Limit", "INVALID", "NONE", "None", "Unknown",
                           "4294967294", "4294967295"))


def to_bytes(text, field, bare_unit):
    """'123456K', '1.5G', '219459584' → bytes (int). A bare number is in `bare_unit` ('B' or 'M')."""
    if not text:
        return 0
    unit = text[-1].upper()
    number = text[:-1] if unit in _BYTES_PER_UNIT else text
    if unit not in _BYTES_PER_UNIT:
        unit = bare_unit
    scale = 1 if unit == "B" else _BYTES_PER_UNIT[unit]
    count = _int_or_none(number)
    if count is not None:
        return count * scale
    try:
        value = float(number)
    except ValueError:
        raise BadField(field, text, "not a memory size")
    if not 0 <= value < float("inf"):
        raise BadField(field, text, "not a memory size")
    whole_part, _, fraction = number.partition(".")
    if whole_part.isdigit() and fraction.isdigit() and len(fraction) <= 9:   # exact: 26699.50K is 27340288 B
        return (int(whole_part) * 10 ** len(fraction) + int(fraction)) * scale // 10 ** len(fraction)
    return int(round(value * scale))


def _int_or_none(text):
    """int of a string of digits, else None (rejects signs, spaces, superscripts, absurd lengths)."""
    if text.isdigit():
        try:
            return int(text)
        except ValueError:  # e.g. '²' is a digit to isdigit() but not to int()
            return None
    return None


def rss_bytes(text, field="MaxRSS"):
    """MaxRSS/AveRSS: with --noconvert a bare number is bytes."""
    return to_bytes(text, field, "B")


def req_mem_bytes(req_mem, req_tres, cpus, nodes):
    """Requested memory of a job: mem= of ReqTRES, else ReqMem (suffix c: per CPU, n: per node);
    0 when SLURM recorded it as unknown (NO_VAL)."""
    per_unit = _req_mem_per_unit(req_mem, req_tres)
    if per_unit >= UNKNOWN_REQUEST_BYTES:
        return 0
    scope = "" if tres_value(req_tres, "mem=") is not None else req_mem[-1:]
    return per_unit * cpus if scope == "c" else per_unit * nodes if scope == "n" else per_unit


def _req_mem_per_unit(req_mem, req_tres):
    tres_mem = tres_value(req_tres, "mem=")
    if tres_mem is not None:
        return to_bytes(tres_mem, "ReqTRES", "M")
    if not req_mem:
        return 0
    if req_mem[-1] in "cn":
        return to_bytes(req_mem[:-1], "ReqMem", "M")
    return to_bytes(req_mem, "ReqMem", "M")


# [D-]HH:MM:SS, MM:SS.mmm (and HH:MM:SS.mmm, MM:SS): one regex match is the cheapest exact reading
_CPU_TIME = re.compile(r"(?:(\d+)-)?(\d+):(\d+)(?::(\d+))?(?:\.(\d{1,9}))?\Z", re.ASCII)


def cpu_time_ms(text, field="TotalCPU"):
    """sacct's CPU time → milliseconds: [D-]HH:MM:SS (from one hour on), MM:SS.mmm (below), also
    HH:MM:SS.mmm; '' is 0. A fraction past milliseconds is cut (sacct prints three digits)."""
    if not text:
        return 0
    match = _CPU_TIME.match(text)
    days, first, second, third, fraction = match.groups() if match else (None,) * 5
    if match is None or (days and third is None):     # a day count comes only before HH:MM:SS
        raise BadField(field, text, "not a CPU time ([D-]HH:MM:SS or MM:SS.mmm)")
    if third is None:       # MM:SS
        seconds = int(first) * 60 + int(second)
    else:
        seconds = (int(first) * 60 + int(second)) * 60 + int(third)
    if days:
        seconds += int(days) * 86400
    return seconds * 1000 + (int((fraction + "00")[:3]) if fraction else 0)


def time_limit_s(text):
    """TimelimitRaw (minutes) → seconds; None for no limit (UNLIMITED, Partition_Limit, INVALID, empty, 0);
    BadField for anything else."""
    if text in NO_TIME_LIMIT:
        return None
    minutes = _int_or_none(text)
    if minutes is None:
        raise BadField("TimelimitRaw", text, "not minutes")
    return minutes * 60 if minutes else None


def tres_memory_bytes(tres):
    """The mem= of a TRES usage string in bytes (--noconvert prints plain bytes; a unit is read too), or
    None when it has none (NONE: not sampled)."""
    at = tres.find(",mem=") + 1 if not tres.startswith("mem=") else 0
    if at == 0 and not tres.startswith("mem="):
        return None
    end = tres.find(",", at + 4)
    text = tres[at + 4:] if end < 0 else tres[at + 4:end]
    if text.isdecimal():
        return int(text)
    if not text or text == "NONE":
        return None
    return rss_bytes(text, "TRESUsageInTot")


def gpu_util(tres):
    """The gres/gpuutil figure of a TRES usage string (percent of one GPU, summed over the task's GPUs:
    collect.jobs explains), or None when it has no sample."""
    if "gres/gpuutil=" not in tres:
        return None
    value = tres_value(tres, "gres/gpuutil=")
    return _int_or_none(value) if value else None


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

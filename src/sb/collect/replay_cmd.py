"""`replay FILE`: a saved `sacct -P` dump (header line first, '|' between fields) → counted like a window."""
import itertools
import os

from sb.collect import boards, commit, sacct as sacct_mod
from sb.collect.errors import CollectorError
from sb.collect.intake import Intake
from sb.collect.jobs import FIELDS, MEMORY_FALLBACK, fold_jobs
from sb.collect.parse import NOT_STARTED, tres_value
from sb.collect.purge import purge_opted_out


def replay(engine, path):
    """Count a saved `sacct -P` dump (header line first, '|' between fields), e.g. made elsewhere."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n").split("|")
        missing = [f for f in FIELDS if f not in header and f not in REPLAY_OPTIONAL]
        if missing:
            raise CollectorError("{}: the header line lacks {}; expected `sacct -P` output with a header "
                                 "line".format(path, ", ".join(missing)))
        lacking = [f for f in REPLAY_OPTIONAL if f not in header]
        if lacking:
            engine.say("{}: {} has no {}: {}".format(engine.s.cluster, path, ", ".join(lacking),
                                                     "; ".join(REPLAY_OPTIONAL[f] for f in lacking)))
        first = _first_data_line(handle)
        _refuse_converted_times(path, header, first)
        intake = Intake(engine, None, engine.piece_jobs)
        lines, delimiter = canonical(itertools.chain([first] if first else [], handle), header)
        intake.take(fold_jobs(lines, delimiter, intake.report, engine.failure_states,
                              latest_end=engine.latest_end()))
    commit.commit(engine, intake, "replay of " + os.path.basename(path), 0, with_cursor=False)
    purge_opted_out(engine)
    boards.write_boards(engine)
    engine.say("{}: {} new job(s) from {}".format(engine.s.cluster, intake.jobs, path))
    return 0


# Fields a dump may lack (one taken by an older release): what the jobs then count without.
REPLAY_OPTIONAL = {"TRESUsageInTot": "memory efficiency from MaxRSS, no GPU utilisation",
                   "TimelimitRaw": "no time limits (time efficiency unknown)",
                   "Eligible": "queue wait counted from Submit"}
HOW_TO_DUMP = ("take the dump with epoch times: TZ=UTC SLURM_TIME_FORMAT=%s sacct -a -D -P --noconvert -S START "
               "-E END -s CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ -o " + ",".join(FIELDS) + " > dump.txt")


def _first_data_line(handle):
    for line in handle:
        if not line.startswith("#"):
            return line
    return None


def _refuse_converted_times(path, header, line):
    """A dump with sacct's default time format (2025-01-01T00:01:52) would make every line malformed: refuse
    it at its first line, saying how to take one replay reads, rather than count nothing."""
    if not line:
        return
    parts = line.rstrip("\r\n").split("|")
    if len(parts) != len(header):
        return
    for field in ("Submit", "Start", "End"):
        value = parts[header.index(field)]
        if value and not value.isdigit() and value not in NOT_STARTED:
            raise CollectorError("{}: {} is {!r}, not epoch seconds; {}".format(path, field, value[:30], HOW_TO_DUMP))


def canonical(lines, header):
    """(lines, delimiter) for fold_jobs from the lines of a saved dump (any field order, '|'). The header
    is mapped to FIELDS once: a dump in FIELDS order (as HOW_TO_DUMP takes it) is read as it is, split
    on '|'; any other order is rebuilt line by line, a field the dump lacks left empty. Like sacct itself,
    an empty MaxRSS/AveRSS is taken from the TRES usage mem= when the dump has it."""
    fallback = [(FIELDS.index(f), header.index(t)) for f, t in MEMORY_FALLBACK.items() if t in header]
    if tuple(header) == FIELDS:   # fallback is empty: the TRES columns are not in FIELDS
        return _as_is(lines), "|"
    return _reordered(lines, header, fallback, sacct_mod.DELIMITER), sacct_mod.DELIMITER


def _as_is(lines):
    for line in lines:
        if not line.startswith("#"):
            yield line if line.endswith("\n") else line + "\n"   # a saved file's last line is whole


def _reordered(lines, header, fallback, delimiter):
    index = [header.index(f) if f in header else None for f in FIELDS]
    width = len(header)
    for line in lines:
        if line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("|")
        if len(parts) != width:
            yield line.rstrip("\r\n").replace("|", delimiter) + "\n"  # malformed: fold reports it
            continue
        row = [parts[i] if i is not None else "" for i in index]
        for position, source in fallback:
            if not row[position]:
                row[position] = tres_value(parts[source], "mem=") or ""
        yield delimiter.join(row) + "\n"

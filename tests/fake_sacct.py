#!/usr/bin/env python3
"""Executable stand-in for Slurm's ``sacct``, backed by a text "sacct database".

Stdlib only, runs on Python 3.6+.  Used by the tests and benchmarks: put a
directory on PATH that holds an executable ``sacct`` wrapper exec'ing this
script (see ``install_fake_sacct``).

Database: ``$FAKE_SACCT_DB_DIR/<cluster>.db``.  Line 1 is the header (field
names joined by ``|``), every other line is one row exactly as
``TZ=UTC SLURM_TIME_FORMAT=%s sacct -a -D -P --noconvert`` prints it; a job
line is followed by its step lines.  ``#`` lines and blank lines are ignored.

Behaviour summary (see also the tests in tests/test_fake_sacct.py):

* ``--version``/``-V`` -> ``slurm 22.05.8`` (override: FAKE_SACCT_VERSION).
* ``--helpformat``/``-e`` -> known field names, 4 per line, width 20.
* Query options: -a -D -P -p -n -X --noconvert --delimiter[=]TOK -M/--clusters
  -S/--starttime -E/--endtime -s/--state -o/--format -u/--user.  Anything
  else is rejected (exit 1) so a collector cannot silently rely on options the
  fake does not model.  Short flags may be bundled (``-aDPnX``).
* Without -M: $FAKE_SACCT_CLUSTER, else the only ``*.db`` in the directory.
  ``-M a,b`` queries several DBs in turn; ``-M all`` = every ``*.db``.  A
  missing DB file prints nothing and exits 0.
* Without -o the format is ``JobID,Partition,Account,AllocCPUS,State``.
* Without -S there is no lower bound, without -E no upper bound.
* JobName, WorkDir, SubmitLine, Comment are refused (exit 2).
* Fields known to sacct but absent from the DB print empty; ``Cluster``
  prints the cluster name.
* Any query needs TZ=UTC in the environment (exit 1 otherwise).

Environment knobs: FAKE_SACCT_DB_DIR, FAKE_SACCT_CLUSTER, FAKE_SACCT_VERSION,
FAKE_SACCT_DROP_FIELDS, FAKE_SACCT_DOWN, FAKE_SACCT_MAX_RANGE_SEC,
FAKE_SACCT_SLEEP, FAKE_SACCT_FAIL_AFTER_LINES, FAKE_SACCT_LOG.
"""

import calendar
import itertools
import json
import os
import shlex
import signal
import stat
import sys
import time

VERSION = "slurm 22.05.8"

DB_FIELDS = (
    "JobID|JobIDRaw|User|Account|Partition|State|ElapsedRaw|AllocCPUS|NNodes|"
    "ReqMem|ReqTRES|AllocTRES|MaxRSS|AveRSS|TotalCPU|Submit|Start|End|"
    "TRESUsageInMax|TRESUsageInAve|TimelimitRaw|Eligible|TRESUsageInTot|JobName"
).split("|")

EXTRA_FIELDS = ["Cluster", "Comment", "Eligible", "ExitCode", "NodeList", "QOS",
                "SubmitLine", "Timelimit", "TimelimitRaw", "TRESUsageInTot", "WorkDir"]

REFUSED_FIELDS = ("jobname", "workdir", "submitline", "comment")

TIME_FIELDS = ("submit", "start", "end", "eligible")   # printed as ISO unless SLURM_TIME_FORMAT=%s

DEFAULT_FORMAT = "JobID,Partition,Account,AllocCPUS,State"

STATE_CODES = {
    "CA": "CANCELLED", "CD": "COMPLETED", "F": "FAILED", "NF": "NODE_FAIL",
    "OOM": "OUT_OF_MEMORY", "PR": "PREEMPTED", "TO": "TIMEOUT",
    "BF": "BOOT_FAIL", "DL": "DEADLINE", "RQ": "REQUEUED", "R": "RUNNING",
    "PD": "PENDING", "S": "SUSPENDED", "RS": "RESIZING", "RV": "REVOKED",
}

DOWN_LINES = (
    "sacct: error: slurm_persist_conn_open_without_init: failed to open "
    "persistent connection to host:localhost:6819: Connection refused\n"
    "sacct: error: Sending PersistInit msg: Connection refused\n"
    "sacct: error: Problem talking to the database: Connection refused\n"
)

MIDSTREAM_ERROR = ("sacct: error: slurm_receive_msg: "
                   "Socket timed out on send/recv operation\n")

FLAGS = {
    "-a": "allusers", "--allusers": "allusers",
    "-D": "duplicates", "--duplicates": "duplicates",
    "-P": "parsable2", "--parsable2": "parsable2",
    "-p": "parsable", "--parsable": "parsable",
    "-n": "noheader", "--noheader": "noheader",
    "-X": "allocations", "--allocations": "allocations",
    "--noconvert": "noconvert",
    "-V": "version", "--version": "version",
    "-e": "helpformat", "--helpformat": "helpformat",
}

VALUED = {
    "-M": "clusters", "--clusters": "clusters",
    "-S": "starttime", "--starttime": "starttime",
    "-E": "endtime", "--endtime": "endtime",
    "-s": "state", "--state": "state",
    "-o": "format", "--format": "format",
    "-u": "user", "--user": "user",
    "--delimiter": "delimiter",
}


class Fail(Exception):
    def __init__(self, message, code=1):
        Exception.__init__(self, message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------
# helpers usable from tests
# --------------------------------------------------------------------------

def install_fake_sacct(bin_dir, db_dir=None, python=None):
    """Write an executable ``sacct`` wrapper into bin_dir; return its path.

    The wrapper execs this script with ``python`` (default: the running
    interpreter).  If db_dir is given it becomes the default
    FAKE_SACCT_DB_DIR (an explicitly set environment variable still wins).
    """
    bin_dir = str(bin_dir)
    if not os.path.isdir(bin_dir):
        os.makedirs(bin_dir)
    script = os.path.abspath(__file__)
    lines = ["#!/bin/sh"]
    if db_dir is not None:
        lines.append('FAKE_SACCT_DB_DIR="${FAKE_SACCT_DB_DIR:-%s}"'
                     % os.path.abspath(str(db_dir)).replace('"', '\\"'))
        lines.append("export FAKE_SACCT_DB_DIR")
    lines.append('exec %s %s "$@"' % (shlex.quote(python or sys.executable),
                                      shlex.quote(script)))
    path = os.path.join(bin_dir, "sacct")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP
             | stat.S_IXOTH)
    return path


# --------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------

def parse_args(argv):
    opts = {}
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in FLAGS and not eq:
                opts[FLAGS[name]] = True
            elif name in VALUED:
                if not eq:
                    if i >= n:
                        raise Fail("sacct: option '%s' requires an argument"
                                   % name)
                    value = argv[i]
                    i += 1
                opts[VALUED[name]] = value
            else:
                raise Fail("sacct: unrecognized option '%s'\n"
                           'Try "sacct --help" for more information' % arg)
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                short = "-" + arg[j]
                j += 1
                if short in FLAGS:
                    opts[FLAGS[short]] = True
                elif short in VALUED:
                    if j < len(arg):
                        value = arg[j:]
                    elif i < n:
                        value = argv[i]
                        i += 1
                    else:
                        raise Fail("sacct: option requires an argument -- '%s'"
                                   % short[1])
                    opts[VALUED[short]] = value
                    break
                else:
                    raise Fail("sacct: invalid option -- '%s'\n"
                               'Try "sacct --help" for more information'
                               % short[1])
        else:
            raise Fail("sacct: error: Unknown arguments: %s" % arg)
    return opts


def parse_time(text):
    """-S/-E value -> epoch seconds (UTC)."""
    if text == "now":
        return int(time.time())
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text, fmt))
        except ValueError:
            pass
    raise Fail("sacct: error: Invalid time specification (pos=0): %s" % text)


def expand_states(text):
    states = set()
    for item in text.split(","):
        item = item.strip().upper()
        if not item:
            continue
        if item in STATE_CODES:
            states.add(STATE_CODES[item])
        elif item in STATE_CODES.values():
            states.add(item)
        else:
            raise Fail("sacct: error: Invalid state: %s" % item)
    return set(s.encode("ascii") for s in states)


def dropped_fields():
    raw = os.environ.get("FAKE_SACCT_DROP_FIELDS", "")
    return set(x.strip().lower() for x in raw.split(",") if x.strip())


def known_fields(db_header):
    drop = dropped_fields()
    seen = {}
    for name in list(DB_FIELDS) + EXTRA_FIELDS + list(db_header):
        if name.lower() not in drop and name.lower() not in seen:
            seen[name.lower()] = name
    return seen  # lower-case -> canonical


def print_helpformat():
    names = sorted(known_fields(()).values(), key=lambda s: s.lower())
    out = []
    for k in range(0, len(names), 4):
        out.append("".join("%-20s" % x for x in names[k:k + 4]).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


# --------------------------------------------------------------------------
# the query
# --------------------------------------------------------------------------

def cluster_files(opts, db_dir):
    clusters = opts.get("clusters")
    if clusters is None:
        clusters = os.environ.get("FAKE_SACCT_CLUSTER")
    if clusters is None:
        dbs = sorted(f for f in os.listdir(db_dir) if f.endswith(".db"))
        clusters = dbs[0][:-3] if len(dbs) == 1 else ""
    names = [c.strip() for c in clusters.split(",") if c.strip()]
    if [c.lower() for c in names] == ["all"]:
        names = sorted(f[:-3] for f in os.listdir(db_dir) if f.endswith(".db"))
    result = []
    for name in names:
        path = os.path.join(db_dir, name + ".db")
        if os.path.isfile(path):
            result.append((name, path))
    return result


def read_header(f):
    for raw in f:
        line = raw.rstrip(b"\r\n")
        if line and not line.startswith(b"#"):
            return line.decode("utf-8", "replace").split("|")
    return None


def resolve_fields(fmt, db_header):
    requested = []
    for item in fmt.split(","):
        item = item.strip().split("%", 1)[0].strip()
        if item:
            requested.append(item)
    for item in requested:
        if item.lower() in REFUSED_FIELDS:
            raise Fail("sacct: error: fake sacct refuses free-text field %s"
                       % item, 2)
    known = known_fields(db_header)
    for item in requested:
        if item.lower() not in known:
            raise Fail('sacct: error: Invalid field requested: "%s"' % item)
    return [known[item.lower()] for item in requested]


def to_iso(value):
    if value.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%S",
                             time.gmtime(int(value))).encode("ascii")
    return value


def stream_db(path, cluster, fields, opts, lo, hi, states, users, delim,
              epoch_times, trailing):
    """Yield the output lines (bytes, newline-terminated) for one DB file."""
    f = open(path, "rb")
    try:
        header = read_header(f)
        if header is None:
            return
        nf = len(header)
        col = dict((name.lower(), k) for k, name in enumerate(header))
        # virtual columns (known to sacct, absent from the DB) go after the
        # real ones; only materialised when requested.
        virtual = []
        idx = []
        for name in fields:
            k = col.get(name.lower())
            if k is None:
                k = nf + len(virtual)
                virtual.append(os.fsencode(cluster)
                               if name.lower() == "cluster" else b"")
            idx.append(k)
        conv = []
        if not epoch_times:
            conv = [pos for pos, name in enumerate(fields)
                    if name.lower() in TIME_FIELDS]

        def need(name):
            # a column the selection needs but the DB lacks reads as empty
            if name in col:
                return col[name]
            virtual.append(b"")
            return nf + len(virtual) - 1

        rss_from_tres = [(col[a], col[b]) for a, b in (("maxrss", "tresusageinmax"), ("averss", "tresusageinave"))
                         if a in col and b in col]
        i_raw = need("jobidraw")
        i_state = need("state")
        i_user = need("user")
        i_submit = need("submit")
        i_start = need("start")
        i_end = need("end")
        allocs_only = opts.get("allocations", False)
        maxsplit = nf - 1
        tail = delim + b"\n" if trailing else b"\n"
        join = delim.join
        selected = False
        for raw in f:
            if raw[:1] == b"#":
                continue
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            v = line.split(b"|", maxsplit)
            if len(v) < nf:
                v.extend([b""] * (nf - len(v)))
            if virtual:
                v.extend(virtual)
            if b"." in v[i_raw]:
                if not selected or allocs_only:
                    continue
            else:
                # ---- job (allocation) line: decide selection ----
                if users is not None and v[i_user].lower() not in users:
                    selected = False
                    continue
                end = v[i_end]
                if states is not None:
                    if (v[i_state].split(b" ", 1)[0] not in states
                            or not end.isdigit()):
                        selected = False
                        continue
                    e = int(end)
                    selected = lo <= e <= hi
                else:
                    e = int(end) if end.isdigit() else None
                    s = v[i_start]
                    if not s.isdigit() or s == b"0":
                        s = v[i_submit]
                    b = int(s) if s.isdigit() else None
                    selected = ((b is None or b <= hi)
                                and (e is None or e >= lo))
                if not selected:
                    continue
            # real sacct prints MaxRSS/AveRSS from the step's TRES usage: a row whose MaxRSS column is
            # empty in the DB but whose TRESUsageInMax has mem= prints that value (bytes, --noconvert)
            for i_rss, i_tres in rss_from_tres:
                if not v[i_rss]:
                    v[i_rss] = tres_mem(v[i_tres])
            out = [v[k] for k in idx]
            for pos in conv:
                out[pos] = to_iso(out[pos])
            yield join(out) + tail
    finally:
        f.close()


def tres_mem(tres):
    """The mem= count of a TRES usage string (bytes), or b""."""
    for token in tres.split(b","):
        if token.startswith(b"mem="):
            return token[4:]
    return b""


def run_query(opts):
    db_dir = os.environ.get("FAKE_SACCT_DB_DIR")
    if not db_dir:
        raise Fail("sacct: error: fake sacct: FAKE_SACCT_DB_DIR is not set")
    files = cluster_files(opts, db_dir)

    first_header = DB_FIELDS
    if files:
        with open(files[0][1], "rb") as f:
            first_header = read_header(f) or DB_FIELDS
    fields = resolve_fields(opts.get("format") or DEFAULT_FORMAT, first_header)

    if os.environ.get("TZ") != "UTC":
        raise Fail("sacct: error: fake sacct wants TZ=UTC")

    states = expand_states(opts["state"]) if opts.get("state") else None
    users = None
    if opts.get("user"):
        users = set(os.fsencode(u.strip()).lower()
                    for u in opts["user"].split(",") if u.strip())
    lo = parse_time(opts["starttime"]) if opts.get("starttime") else None
    hi = parse_time(opts["endtime"]) if opts.get("endtime") else None

    sleep = os.environ.get("FAKE_SACCT_SLEEP")
    if sleep:
        time.sleep(float(sleep))

    if os.environ.get("FAKE_SACCT_DOWN", "") not in ("", "0"):
        sys.stderr.write(DOWN_LINES)
        return 1

    max_range = os.environ.get("FAKE_SACCT_MAX_RANGE_SEC")
    if max_range:
        if lo is None or hi is None or hi - lo > float(max_range):
            raise Fail("sacct: error: Too wide of a date range in query")

    if lo is None:
        lo = float("-inf")
    if hi is None:
        hi = float("inf")
    delim = os.fsencode(opts.get("delimiter", "|"))
    trailing = bool(opts.get("parsable")) and not opts.get("parsable2")
    epoch_times = os.environ.get("SLURM_TIME_FORMAT") == "%s"

    def all_lines():
        if not opts.get("noheader"):
            yield (delim.join(x.encode("utf-8") for x in fields)
                   + (delim if trailing else b"") + b"\n")
        for cluster, path in files:
            for line in stream_db(path, cluster, fields, opts, lo, hi, states,
                                  users, delim, epoch_times, trailing):
                yield line

    if not files:
        return 0
    out = sys.stdout.buffer
    fail_after = os.environ.get("FAKE_SACCT_FAIL_AFTER_LINES")
    if fail_after:
        out.writelines(itertools.islice(all_lines(), int(fail_after)))
        out.flush()
        sys.stderr.write(MIDSTREAM_ERROR)
        return 1
    out.writelines(all_lines())
    out.flush()
    return 0


def log_invocation(argv):
    path = os.environ.get("FAKE_SACCT_LOG")
    if not path:
        return
    record = {"t": time.time(), "argv": argv,
              "env_tz": os.environ.get("TZ"),
              "env_fmt": os.environ.get("SLURM_TIME_FORMAT")}
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    log_invocation(argv)
    try:
        opts = parse_args(argv)
        if opts.get("version"):
            sys.stdout.write(os.environ.get("FAKE_SACCT_VERSION", VERSION)
                             + "\n")
            return 0
        if opts.get("helpformat"):
            print_helpformat()
            return 0
        return run_query(opts)
    except Fail as e:
        sys.stdout.flush()
        sys.stderr.write(e.message + "\n")
        return e.code


if __name__ == "__main__":
    sys.exit(main())

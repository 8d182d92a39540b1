"""Stage 1, SLURM → text: runs sacct (streaming its lines; never holding a window in memory) and sacctmgr."""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager

from sb.collect.jobs import FIELDS, MEMORY_FALLBACK, OPTIONAL
from sb.timeutil import sacct_time

# A delimiter no field we request can contain (TRES strings hold ',', '=', '/', ':').
DELIMITER = "#|#"
# Jobs that ENDED in the window, whatever the state of their steps (sacct -s selects on End then).
END_STATES = "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ"
TOO_WIDE = "Too wide of a date range"


class SacctError(Exception):
    """sacct failed; `too_wide` when slurmdbd's MaxQueryTimeRange refused the window."""

    def __init__(self, message, too_wide=False):
        super().__init__(message)
        self.too_wide = too_wide


def sacct_env(base=None):
    """UTC in, epochs out: -S/-E are read as UTC and times print as epoch seconds."""
    env = dict(os.environ if base is None else base)
    env["TZ"] = "UTC"
    env["SLURM_TIME_FORMAT"] = "%s"
    return env


def kill_group(proc):
    """Kill the child and everything it started (a wrapper script's grandchild holds our pipes too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # already gone, every one of them
        pass


def run_captured(argv, timeout, env=None):
    """subprocess.run(argv, capture, timeout) with the child in its own process group (session), killed
    whole on timeout or abort: a shell wrapper that calls sacct without `exec` cannot outlive the timeout.
    Raises FileNotFoundError/PermissionError like subprocess.run, subprocess.TimeoutExpired on timeout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                            encoding="utf-8", errors="replace")
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        kill_group(proc)
        proc.communicate()
        raise
    kill_group(proc)  # stragglers left in the background by a wrapper
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def known_fields(sacct, timeout=60):
    """Field names this sacct offers (`--helpformat`), so we never ask for one it lacks."""
    try:
        done = run_captured([sacct, "--helpformat"], timeout, sacct_env())
    except FileNotFoundError:
        raise SacctError("{!r} not found; put sacct on PATH or set 'sacct' in the config".format(sacct))
    except subprocess.TimeoutExpired:
        raise SacctError("sacct --helpformat timed out after {} s".format(timeout))
    if done.returncode != 0:
        raise SacctError("sacct --helpformat failed: {}".format(first_error(done.stderr)))
    return set(done.stdout.split())


def choose_fields(available):
    """(fields to request, whether TRES usage strings stand in for MaxRSS/AveRSS) for this sacct."""
    tres_memory = not all(f in available for f in MEMORY_FALLBACK) and all(
        f in available for f in MEMORY_FALLBACK.values())
    fields = tuple(MEMORY_FALLBACK.get(f, f) if tres_memory else f for f in FIELDS)
    # an optional field this sacct lacks is asked as JobIDRaw, which reads as no sample (collect.jobs)
    fields = tuple("JobIDRaw" if f in OPTIONAL and f not in available else f for f in fields)
    missing = [f for f in fields if f not in available]
    if missing:
        raise SacctError("this sacct lacks the field(s) {}; the scoreboard cannot count jobs "
                         "without them".format(", ".join(missing)))
    return fields, tres_memory


def command(sacct, cluster, start, end, fields, user=None):
    """The sacct argv for jobs of `cluster` that ended in [start, end] (epochs, both inclusive)."""
    argv = [sacct, "-a", "-D", "-P", "-n", "--noconvert", "--delimiter=" + DELIMITER,
            "-M", cluster, "-S", sacct_time(start), "-E", sacct_time(end),
            "-s", END_STATES, "-o", ",".join(fields)]
    if user:
        argv += ["-u", user]
    return argv


def users_command(sacct, cluster, start, end):
    """The sacct argv listing the user of every job (allocation lines only) that ended in [start, end]:
    the jobs the collector counts, so visibility checks and discover see what polls will see."""
    return [sacct, "-a", "-X", "-n", "-P", "-M", cluster, "-o", "User", "-s", END_STATES,
            "-S", sacct_time(start), "-E", sacct_time(end)]


@contextmanager
def stream(argv, timeout):
    """Yield sacct's stdout lines as they come; raise SacctError if it fails or exceeds `timeout`.

    The caller must treat everything read as provisional until the block exits without error.
    """
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty stderr cannot deadlock us
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=sacct_env(),
                                    encoding="utf-8", errors="replace", bufsize=1 << 16, start_new_session=True)
        except FileNotFoundError:
            raise SacctError("{!r} not found; put sacct on PATH or set 'sacct' in the config".format(argv[0]))
        timed_out = threading.Event()
        timer = threading.Timer(timeout, lambda: (timed_out.set(), kill_group(proc)))
        timer.daemon = True
        timer.start()
        try:
            yield proc.stdout
            for _ in proc.stdout:  # drain, so a consumer that stopped early still gets the exit status
                pass
            status = proc.wait()
        finally:
            timer.cancel()
            kill_group(proc)  # on abort, and any grandchild a wrapper script left behind
            proc.wait()
            proc.stdout.close()
        if timed_out.is_set():
            raise SacctError("sacct timed out after {} s (sacct_timeout_sec)".format(timeout))
        errors.seek(0)
        text = errors.read().decode("utf-8", "replace")
        if status != 0:
            raise SacctError("sacct exited {}: {}".format(status, first_error(text)), TOO_WIDE in text)
        if "error" in text.lower():   # `sacct: error: ...` with exit 0: what it printed cannot be trusted
            raise SacctError("sacct exited 0 but said: {}".format(first_error(text)), TOO_WIDE in text)


def first_error(text):
    """The line of a command's stderr worth showing: the first that says error, else the first."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "no message")
    return chosen[:300]


def run_command(argv, timeout=60):
    """(status, stdout, stderr) of a SLURM command run like sacct (UTC, epochs); None if it is not found."""
    try:
        done = run_captured(argv, timeout, sacct_env())
    except (FileNotFoundError, PermissionError):
        return None
    except subprocess.TimeoutExpired:
        return 124, "", "timed out after {} s".format(timeout)
    return done.returncode, done.stdout, done.stderr


def sibling(sacct, name):
    """Another SLURM command (sacctmgr) beside the configured sacct, else on PATH."""
    path = shutil.which(sacct)
    beside = os.path.join(os.path.dirname(path), name) if path else None
    return beside if beside and os.access(beside, os.X_OK) else name


def dbd_config(sacct):
    """From `sacctmgr show configuration`: {'PrivateData': [local, slurmdbd], 'MaxQueryTimeRange': ...,
    'PurgeJobAfter': ...}, or None when it cannot be read."""
    result = run_command([sibling(sacct, "sacctmgr"), "show", "configuration"])
    if not result or result[0] != 0:
        return None
    found = {"PrivateData": []}
    for line in result[1].splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "PrivateData":
            found["PrivateData"].append(value)
        elif key in ("MaxQueryTimeRange", "PurgeJobAfter"):
            found[key] = value
    return found


def hides_jobs(dbd):
    """PrivateData=jobs (locally or in slurmdbd): a plain user's sacct -a lists only their own jobs."""
    return dbd is not None and any("jobs" in value.lower() for value in dbd["PrivateData"])


def whoami():
    try:
        return pwd.getpwuid(os.getuid()).pw_name.lower()
    except KeyError:
        return str(os.getuid())

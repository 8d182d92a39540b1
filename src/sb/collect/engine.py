"""One collector run on one cluster: settings → lock, pacer and cursor, then sacct windows → Intake → commits.

Every piece of a window read from sacct is either committed whole (rollups, user totals, seen identities,
the problem log and the cursor in one Transaction, see collect.commit) or not at all, so kill -9, a failed
sacct call or a re-run never loses or double counts a job. A window with more new jobs than PIECE_JOBS is
also committed in pieces of that many jobs as it streams (without its cursor and problem log, which wait
for its end), so memory stays flat whatever the month's size. The commands (poll_cmd, backfill_cmd, ...)
decide which windows to read; this module knows how.
"""
import os
import shlex
import time

from sb.collect import commit, cursor as cursor_file, heal, sacct as sacct_mod, seen
from sb.collect.errors import CollectorError
from sb.collect.intake import Intake
from sb.collect.jobs import FIELDS, fold_jobs
from sb.collect.pacing import Pacer
from sb.optout import OptOut
from sb.store.data import ClusterData, Damaged
from sb.store.files import atomic_write, check_tree, make_private, recover
from sb.store.layout import ClusterPaths
from sb.store.lock import Busy, ClusterLock
from sb.timeutil import DAY, iso_utc, parse_when, sacct_time

MAX_CONSECUTIVE_FAILURES = 5
MAX_HEALS = 8              # damaged files quarantined in one run before it gives up
CLOCK_SKEW_SEC = 3600      # how far ahead of ours another cluster's clock may be
EX_TEMPFAIL = 75           # sysexits.h: try again later (the lock stayed busy for the whole --wait)
NARROWEST_WINDOW = 600     # below this, a "too wide" refusal is a misconfiguration, not something to split
# New jobs held in memory before a long window is committed in pieces. With 2,000 users a piece costs
# about 250 bytes a job (identities, and the batch's day x user counters: 15.9 MiB of Python objects at
# 65,536 jobs, traced in a replay), so 32,768 keeps a replay near a backfill's peak RSS for about 10%
# more commits. SLURM_SB_PIECE_JOBS overrides it; the tests set it small to exercise the piece path.
PIECE_JOBS = 32768


class _Narrower(Exception):
    """slurmdbd refused a window as too wide; the allowed width has been lowered, read again."""


class Engine:
    def __init__(self, settings, clock=time.time, sleep=time.sleep, out=None, err=None,
                 verbose=False, dry_run=False, max_wait=0.0, home_lookup=None, interactive=False,
                 lock_wait=0.0, busy_status=0):
        self.s = settings
        self.paths = ClusterPaths(settings.root, settings.cluster)
        self.data = ClusterData(self.paths)
        self.clock = clock
        self.sleep = sleep
        self.say = out or print
        self.warn = err or print
        self.verbose = verbose
        self.dry_run = dry_run
        self.interactive = interactive
        self.max_wait = max_wait
        self.lock_wait = lock_wait      # seconds to wait for a busy lock
        self.busy_status = busy_status  # exit status when it stays busy: poll 0 (the next tick), others 75
        self.optout = OptOut(settings.root, **({"home_lookup": home_lookup} if home_lookup else {}))
        states = tuple(settings.failure_states)
        self.failure_states = states + ("CANCELLED",) if settings.count_cancelled_as_failure else states
        self.backfill_epoch = parse_when(_first_day(settings.backfill_start))
        self.pacer = None
        self.fields, self.tres_memory = None, False
        self.cursor = None
        self.manifest = None
        self.held_users = None   # {user: delta} of committed windows whose user files wait (commit.write_held_users)
        self.totals = {"new": 0, "windows": 0, "problems": 0}
        self.piece_jobs = int(os.environ.get("SLURM_SB_PIECE_JOBS") or PIECE_JOBS)

    # ---- a run: `work(engine, *args)` under the lock, with the pacer and cursor loaded -----------

    def run(self, work, *args):
        """Run one command (poll_cmd.poll, backfill_cmd.backfill, ...); returns its exit status."""
        if self.dry_run:  # read what is there, touch nothing, call no sacct
            self.fields = FIELDS
            return self._with_state(work, args, limit=0)
        os.umask(0o002)  # files world-readable, directories group-writable (spec §20)
        self.paths.make_dirs()
        check_tree(self.paths)
        try:
            with ClusterLock(self.paths, wait=self.lock_wait, on_wait=self._waiting):
                replayed, swept = recover(self.paths, self.warn)
                for private in (self.paths.known_users, self.paths.purged):  # earlier versions wrote them 0664
                    make_private(private)
                if self.verbose and (replayed or swept):
                    self.say("recovered: finished an interrupted commit" if replayed else
                             "recovered: removed {} temp file(s) of an interrupted run".format(swept))
                return self._healing(work, args)
        except Busy as busy:
            if self.busy_status == 0:
                self.say("{}: another collector holds {} ({}); leaving it the work".format(
                    self.s.cluster, self.paths.lock, busy))
                return 0
            self.warn("{}: another collector still holds {} ({}) after waiting {:g} s; nothing was done - run "
                      "this again later, or with a longer --wait".format(self.s.cluster, self.paths.lock, busy,
                                                                         self.lock_wait))
            return self.busy_status

    def _waiting(self, holder):
        self.say("{}: another collector holds {} ({}); waiting up to {:g} s (--wait)".format(
            self.s.cluster, self.paths.lock, holder, self.lock_wait))

    def _healing(self, work, args):
        """Damage is never fatal: a damaged file is quarantined (heal) and the command runs again."""
        for _ in range(MAX_HEALS):
            try:
                return self._with_state(work, args, limit=self.s.rate_limit_per_min)
            except Damaged as damage:
                heal.quarantine(self, damage)
        raise CollectorError("more than {} damaged files in one run; see the lines above".format(MAX_HEALS))

    def _with_state(self, work, args, limit):
        self.pacer = Pacer(self.paths.pacing, limit, self.s.backoff_max_sec, self.clock, self.sleep,
                           self.max_wait, self.warn)
        self.cursor = cursor_file.load(self.paths, self.s, self.clock(), self.backfill_epoch)
        self._no_future_watermark()
        upgraded = 0 if self.dry_run else seen.upgrade(self.paths)   # format 1/2 seen files, once
        if upgraded and (self.verbose or self.interactive):
            self.say("{}: {} seen file(s) by End month upgraded to format 3 (by Submit month)".format(
                self.s.cluster, upgraded))
        heal.check(self, seen_upgraded=bool(upgraded))
        return work(self, *args)

    def _no_future_watermark(self):
        """A watermark left in the future by a run whose clock was ahead is pulled back (cursor.pull_back)."""
        was = cursor_file.pull_back(self.cursor, self.paths.cursor, int(self.clock()), CLOCK_SKEW_SEC)
        if was is None:
            return
        self.warn("{}: the collection watermark was in the future ({}; a run with its clock ahead?): pulled back "
                  "to {}".format(self.s.cluster, iso_utc(was), iso_utc(self.cursor["watermark"])))
        if not self.dry_run:
            atomic_write(self.paths.cursor, cursor_file.to_json(self.cursor))

    # ---- reading windows ------------------------------------------------------------------------

    def prepare_fields(self):
        if self.fields is None:
            known = sacct_mod.known_fields(self.s.sacct, timeout=min(60, self.s.sacct_timeout_sec))
            self.fields, self.tres_memory = sacct_mod.choose_fields(known)

    def settled(self):
        """The newest End read now: SLURM records a job's end a moment before its steps' statistics."""
        return int(self.clock()) - self.s.settle_sec

    def window(self, start, end, advance, user=None, label=None, recount=None):
        """Read [start, end] in pieces sacct accepts. Each piece is committed with its cursor change
        `advance(cursor, piece_end)`, except in a recount, where the pieces are committed as one."""
        intake, began = Intake(self, recount, self.piece_jobs), time.time()
        piece_start = start
        while piece_start <= end:
            piece_end = min(end, piece_start + self.widest() - 1)
            try:
                self._read(piece_start, piece_end, intake, user)
            except _Narrower:
                continue  # same piece start, narrower piece
            if not recount:
                self._finish(intake, piece_end, advance, label or span(piece_start, piece_end), began)
                intake, began = Intake(self, None, self.piece_jobs), time.time()
            piece_start = piece_end + 1
        if recount:
            self._finish(intake, end, advance, label or span(start, end), began, replace=(recount, start, end))

    def widest(self):
        """Longest window to ask for: max_window_days, or half of what slurmdbd last refused."""
        widest = self.s.max_window_days * DAY
        refused = self.cursor.get("too_wide_sec")
        return min(widest, refused // 2) if refused else widest

    def _finish(self, intake, piece_end, advance, label, began, replace=None):
        if advance:
            advance(self.cursor, piece_end)  # in a dry run only in memory, so a dry backfill walks every month
        if self.dry_run:
            return
        self.pacer.succeeded()
        commit.commit(self, intake, label, time.time() - began, replace=replace)

    def _read(self, start, end, intake, user):
        argv = sacct_mod.command(self.s.sacct, self.s.cluster, start, end, self.fields, user)
        self.show(argv)
        if self.dry_run:
            return
        self.pacer.before_call()
        outcomes = intake.jobs + intake.report.total()
        try:
            with sacct_mod.stream(argv, self.s.sacct_timeout_sec) as lines:
                jobs = fold_jobs(lines, sacct_mod.DELIMITER, intake.report, self.failure_states, self.tres_memory,
                                 self.latest_end())
                intake.take(_within(jobs, start, end, intake.report))
            if intake.report.get("cut_off"):
                raise sacct_mod.SacctError("sacct's output ended mid-line (no newline after the last line): it "
                                           "was cut off, so the rest of this window is read again later")
        except sacct_mod.SacctError as err:
            intake.close()
            if not err.too_wide or intake.jobs + intake.report.total() != outcomes:
                raise
            if end - start < NARROWEST_WINDOW:
                raise sacct_mod.SacctError("slurmdbd refuses even a {} s window as too wide; ask the admins "
                                           "about MaxQueryTimeRange".format(end - start + 1))
            self.cursor["too_wide_sec"] = end - start + 1
            atomic_write(self.paths.cursor, cursor_file.to_json(self.cursor))  # remembered if this run stops here
            self.say("{}: slurmdbd refused {} as too wide (MaxQueryTimeRange); reading {} s at a time".format(
                self.s.cluster, span(start, end), self.widest()))
            raise _Narrower()

    def latest_end(self):
        """The latest End a real job can have now: the clock plus the skew clusters may have (spec §4)."""
        return int(self.clock()) + CLOCK_SKEW_SEC

    def commit_piece(self, intake):
        """Commit the jobs in hand in the middle of a long window (see Intake); the cursor and the problem
        log wait for the window's end."""
        commit.commit(self, intake, None, 0, with_cursor=False, piece=True)
        intake.next_piece()

    def load_seen(self, key):
        """The seen file holding identity `key` (its Submit month); files of the format before 3 were
        upgraded when the run began (seen.upgrade). A damaged file raises seen.Damaged, naming it."""
        month = seen.shard_of(key)
        return seen.SeenShard.open(month, self.paths.seen(month))

    # ---- failures, cursor-only steps, what is said --------------------------------------------

    def retrying(self, step):
        """Run a step, waiting out failures with exponential backoff (backfill may sleep; poll may not)."""
        failures = 0
        while True:
            try:
                return step()
            except sacct_mod.SacctError as err:
                failures += 1
                self.sacct_failed(err)
                if failures >= MAX_CONSECUTIVE_FAILURES or self.dry_run:
                    raise CollectorError("giving up after {} failed sacct calls in a row".format(failures))
                self.sleep(self.pacer.backoff_wait())

    def sacct_failed(self, err):
        if not self.dry_run:
            self.pacer.failed()
        self.warn("{}: {} - nothing was committed for that window; the next run retries it".format(
            self.s.cluster, err))
        return 1

    def commit_cursor_only(self, advance, piece_end):
        if advance:
            advance(self.cursor, piece_end)
        if not self.dry_run:
            atomic_write(self.paths.cursor, cursor_file.to_json(self.cursor))

    def show(self, argv):
        if self.verbose or self.dry_run:
            self.say("$ TZ=UTC SLURM_TIME_FORMAT=%s " + " ".join(shlex.quote(a) for a in argv))

    def summary(self):
        cursor = self.cursor
        where = ("cold start at {}".format(cursor["next_month"]) if not cursor["coldstart_done"]
                 else "up to {}".format(iso_utc(cursor["watermark"])))
        problems = self.totals["problems"]
        self.say("{}: {} new job(s) in {} window(s){}; data {}".format(
            self.s.cluster, self.totals["new"], self.totals["windows"],
            ", {} unreadable line(s) skipped (see {})".format(problems, self.paths.log) if problems else "", where))


def _within(jobs, start, end, report):
    """Jobs whose End lies in the window asked for; any other is a problem, never a job of another month."""
    for job in jobs:
        if start <= job.end <= end:
            yield job
        else:
            report.add("outside_window", "-", "a job ended {} outside the window asked for".format(iso_utc(job.end)))


def _first_day(start):
    """'2024-03' → '2024-03-01'; a full date stays."""
    start = str(start)
    return start if start.count("-") == 2 else start + "-01"


def span(start, end):
    return "{} .. {}".format(sacct_time(start), sacct_time(end))

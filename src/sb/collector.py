"""The collector's wiring: sacct windows → deduped jobs → one committed transaction each → leaderboards.

Every piece of a window read from sacct is either committed whole (rollups, user totals, seen identities,
the problem log and the cursor in one Transaction) or not at all, so kill -9, a failed sacct call or a
re-run never loses or double counts a job. A window with more new jobs than PIECE_JOBS is also committed
in pieces of that many jobs as it streams (without its cursor and problem log, which wait for its end),
so memory stays flat whatever the month's size.
"""
import json
import os
import shlex
import time

from sb import discover as discover_mod
from sb import live as live_mod
from sb import sacct as sacct_mod
from sb.jobs import FIELDS, MEMORY_FALLBACK, LineReport, fold_jobs
from sb.leaderboard import WINDOWS, board_json
from sb.optout import OptOut
from sb.pacing import Deferred, Pacer
from sb.parse import is_valid_user, tres_value
from sb.rollup import (Batch, add_into, daily_json, merge_days, month_totals, monthly_json, parse_daily,
                       parse_monthly, parse_user, remove_user, user_json, window_totals, zero)
from sb.seen import SeenMonth
from sb.store import Busy, ClusterLock, ClusterPaths, Transaction, atomic_write, read_bytes, recover
from sb.timeutil import (DAY, iso_utc, month_end, month_of_epoch, month_start, next_month,
                         normalize_month, parse_when, sacct_time)

MAX_CONSECUTIVE_FAILURES = 5
VISIBILITY_RECHECK_SEC = 86400
NARROWEST_WINDOW = 600     # below this, a "too wide" refusal is a misconfiguration, not something to split
PROBLEM_LOG_LIMIT = 1 << 20
# New jobs held in memory before a long window is committed in pieces (about 70 bytes each: the batch's
# identity set). SLURM_SB_PIECE_JOBS overrides it; the tests set it small to exercise the piece path.
PIECE_JOBS = 65536


class CollectorError(Exception):
    """A problem the user must fix (bad state file, sacct unusable); the message says what to do."""


class _Narrower(Exception):
    """slurmdbd refused a window as too wide; the allowed width has been lowered, read again."""


class Intake:
    """The jobs of one sacct window: opt-outs dropped, already counted ones skipped, the rest tallied.

    With `recount` set to a user, that user's jobs are all counted, seen or not: their numbers for the
    window replace what is stored (used for months whose data was purged at an opt-out).

    Memory stays flat however long the window: once `piece_jobs` new jobs are in hand, they are committed
    (rollups, user totals, seen identities; not the cursor, not the problem log) and the batch starts
    again. A crash after such a piece loses nothing: re-reading the window finds its jobs already counted.
    A recount is never split, because it replaces the user's numbers as a whole.
    """

    def __init__(self, collector, recount=None, piece_jobs=None):
        self.c = collector
        self.recount = recount
        self.piece_jobs = None if recount else piece_jobs
        self.batch = Batch()
        self.seen = {}
        self.report = LineReport()
        self.recounted = set()
        self.committed = 0  # jobs already committed in earlier pieces of this window

    @property
    def jobs(self):
        """Jobs counted in this window so far, committed pieces included."""
        return self.committed + self.batch.jobs

    def take(self, jobs):
        optout, report, months, piece = self.c.optout, self.report, {}, self.piece_jobs
        for job in jobs:
            if optout(job.user):
                report.add("opted_out")
                continue
            day = job.end // DAY
            seen = months.get(day)
            if seen is None:
                seen = months[day] = self._seen_month(month_of_epoch(job.end))
            if job.user == self.recount:
                if job.key in self.recounted:
                    report.add("already_counted")
                    continue
                self.recounted.add(job.key)
                if job.key not in seen:
                    seen.add(job.key)
            elif job.key in seen:
                report.add("already_counted")
                continue
            else:
                seen.add(job.key)
            self.batch.add(job)
            if piece and self.batch.jobs >= piece:
                self.c.commit_piece(self)
                months = {}

    def next_piece(self):
        """After a piece is committed: a fresh batch, and the months' seen files read again."""
        self.committed += self.batch.jobs
        self.batch = Batch()
        self.close()

    def close(self):
        for seen in self.seen.values():
            seen.close()
        self.seen = {}

    def _seen_month(self, month):
        seen = self.seen.get(month)
        if seen is None:
            seen = self.seen[month] = self.c.load_seen(month)
        return seen


class Collector:
    def __init__(self, settings, clock=time.time, sleep=time.sleep, out=None, err=None,
                 verbose=False, dry_run=False, max_wait=0.0, home_lookup=None, interactive=False):
        self.s = settings
        self.paths = ClusterPaths(settings.root, settings.cluster)
        self.clock = clock
        self.sleep = sleep
        self.say = out or print
        self.warn = err or print
        self.verbose = verbose
        self.dry_run = dry_run
        self.interactive = interactive
        self.max_wait = max_wait
        self.optout = OptOut(settings.root, **({"home_lookup": home_lookup} if home_lookup else {}))
        states = tuple(settings.failure_states)
        self.failure_states = states + ("CANCELLED",) if settings.count_cancelled_as_failure else states
        self.backfill_epoch = parse_when(_first_day(settings.backfill_start))
        self.pacer = None
        self.fields, self.tres_memory = None, False
        self.cursor = None
        self.totals = {"new": 0, "windows": 0, "problems": 0}
        self.piece_jobs = int(os.environ.get("SLURM_SB_PIECE_JOBS") or PIECE_JOBS)

    # ---- entry points: each returns an exit status -------------------------------------------

    def poll(self):
        return self._run(self._poll)

    def backfill(self, since=None, until=None, user=None):
        return self._run(self._backfill, since, until, user)

    def rebuild(self):
        return self._run(self._rebuild)

    def replay(self, path):
        return self._run(self._replay, path)

    def discover(self):
        return self._run(self._discover)

    def _run(self, work, *args):
        if self.dry_run:  # read what is there, touch nothing, call no sacct
            self.fields = FIELDS
            return self._with_state(work, args, limit=0)
        os.umask(0o002)  # files world-readable, directories group-writable (spec §20)
        self.paths.make_dirs()
        try:
            with ClusterLock(self.paths):
                replayed, swept = recover(self.paths)
                if self.verbose and (replayed or swept):
                    self.say("recovered: finished an interrupted commit" if replayed else
                             "recovered: removed {} temp file(s) of an interrupted run".format(swept))
                return self._with_state(work, args, limit=self.s.rate_limit_per_min)
        except Busy as busy:
            self.say("{}: another collector holds {} ({}); leaving it the work".format(
                self.s.cluster, self.paths.lock, busy))
            return 0

    def _with_state(self, work, args, limit):
        self.pacer = Pacer(self.paths.pacing, limit, self.s.backoff_max_sec, self.clock, self.sleep,
                           self.max_wait)
        self.cursor = self._load_cursor()
        return work(*args)

    # ---- poll ---------------------------------------------------------------------------------

    def _poll(self):
        wait = self.pacer.backoff_wait()
        if wait > 0:
            self.warn("{}: sacct failed {} time(s) in a row; backing off, next try in {:.0f} s".format(
                self.s.cluster, self.pacer.state["failures"], wait))
            return 0
        status = 0
        try:
            self._prepare_fields()
            self._check_visibility()
            if not self.cursor["coldstart_done"]:
                self._coldstart_month()
            self._catch_up()
            self._work_queue()
        except Deferred as deferred:
            self.say("{}: {}; the rest waits for the next tick".format(self.s.cluster, deferred))
        except sacct_mod.SacctError as err:
            status = self._sacct_failed(err)
        self._purge_opted_out()
        self._write_boards()
        self._write_live()
        self._summary()
        return status

    def _write_live(self):
        """One squeue snapshot → live.json (never rolled up); a failure only warns."""
        if self.dry_run:
            return
        try:
            users = live_mod.summarize(live_mod.snapshot(self.s.squeue), self.optout)
        except live_mod.LiveError as err:
            self.warn("{}: live activity not updated: {}".format(self.s.cluster, err))
            return
        atomic_write(self.paths.live, live_mod.live_json(self.s.cluster, users, self.clock()))

    def _sacct_failed(self, err):
        if not self.dry_run:
            self.pacer.failed()
        self.warn("{}: {} - nothing was committed for that window; the next run retries it".format(
            self.s.cluster, err))
        return 1

    def _coldstart_month(self):
        """Read what is left of the next cold-start month (in pieces if slurmdbd wants them narrower)."""
        month = self.cursor["next_month"]
        start = max(month_start(month), self.backfill_epoch, self.cursor.get("coldstart_pos") or 0)
        end = min(month_end(month), self._settled())

        def advance(cursor, piece_end):
            if piece_end < month_end(month):
                cursor["coldstart_pos"] = piece_end + 1
                return
            following = next_month(month)
            cursor.update(last_complete_month=month, coldstart_pos=None,
                          coldstart_done=following >= cursor["coldstart_until"])
            cursor["next_month"] = None if cursor["coldstart_done"] else following

        self._window(start, end, advance, label=month)

    def _settled(self):
        """The newest End read now: SLURM records a job's end a moment before its steps' statistics."""
        return int(self.clock()) - self.s.settle_sec

    def _catch_up(self):
        """Everything that ended since the watermark, re-reading late_window_sec before it."""
        start = max(self.cursor["watermark"] - self.s.late_window_sec, self.backfill_epoch)
        self._window(start, self._settled(), lambda cursor, piece_end: cursor.update(watermark=piece_end + 1))

    # ---- backfill -----------------------------------------------------------------------------

    def _backfill(self, since, until, user):
        self._prepare_fields()
        self._check_visibility()
        if since or until or user:
            self._rescan(since, until, user)
        else:
            while not self.cursor["coldstart_done"]:
                self._retrying(self._coldstart_month)
                if not self.cursor["coldstart_done"] and self.pacer.enabled and not self.dry_run:
                    self.sleep(self.s.backfill_sleep_sec)
        self._retrying(self._catch_up)
        self._purge_opted_out()
        self._write_boards()
        self._summary()
        return 0

    def _rescan(self, since, until, user):
        """Re-read chosen months (dedupe makes it safe); with a user, only their jobs, recounting the
        months where their data was purged at an opt-out."""
        now = int(self.clock())
        purged = set(self._load_purged().get(user, ())) if user else set()
        month = max(normalize_month(since or self.s.backfill_start), month_of_epoch(self.backfill_epoch))
        last = min(normalize_month(until) if until else month_of_epoch(now), month_of_epoch(now))
        while month <= last:
            self._retrying(lambda: self._user_month(month, user, purged, None))
            month = next_month(month)
            if month <= last and self.pacer.enabled and not self.dry_run:
                self.sleep(self.s.backfill_sleep_sec)

    def _user_month(self, month, user, purged, advance):
        """Re-read one month (only `user`'s jobs if given), recounting the user where their data was purged."""
        start, end = max(month_start(month), self.backfill_epoch), min(month_end(month), self._settled())
        if start <= end:
            recount = user if user and month in purged else None
            self._window(start, end, advance, user, label=month + (" for " + user if user else ""), recount=recount)
        elif advance:
            self._commit_cursor_only(advance, end)

    def _check_visibility(self):
        """Refuse to publish a one-user board: with PrivateData=jobs, a plain user's `sacct -a` silently
        lists only their own jobs. Asked of sacctmgr at most once a day (the verdict is kept in state/)."""
        if self.dry_run or os.getuid() == 0:  # root (and SlurmUser) always see every job
            return
        now = self.clock()
        known = self._load_json(self.paths.visibility, {})
        if now - known.get("checked", 0) < VISIBILITY_RECHECK_SEC and known.get("ok"):
            return
        others = self._other_users_this_week() if sacct_mod.hides_jobs(sacct_mod.dbd_config(self.s.sacct)) else True
        atomic_write(self.paths.visibility, json.dumps({"checked": now, "ok": bool(others)}).encode())
        if not others:
            raise CollectorError("PrivateData=jobs: sacct -a shows you only your own jobs, so the board would "
                                 "rank only you; nothing was collected. Run `slurm-sb doctor` for what to do")

    def _other_users_this_week(self):
        return self._accounting_users(7) - {sacct_mod.whoami()}

    def _accounting_users(self, days):
        """Usernames of the jobs that ran here in the last `days` days (one rate-limited sacct call)."""
        now = int(self.clock())
        argv = sacct_mod.users_command(self.s.sacct, self.s.cluster, now - days * DAY, now)
        self._show(argv)
        if self.dry_run:
            return set()
        self.pacer.before_call()
        with sacct_mod.stream(argv, self.s.sacct_timeout_sec) as lines:
            return discover_mod.accounting_users(lines, ())

    def _show(self, argv):
        if self.verbose or self.dry_run:
            self.say("$ TZ=UTC SLURM_TIME_FORMAT=%s " + " ".join(shlex.quote(a) for a in argv))

    # ---- discover and its queue -----------------------------------------------------------------

    def _discover(self):
        """Queue a targeted backfill for users seen for the first time without data (and purged users
        who opted back in); `poll` works the queue off within the rate limit."""
        now = int(self.clock())
        exclude = set(self.s.exclude_users)
        candidates = (discover_mod.home_users(self.s.home_roots, self.s.uid_min, self.s.uid_max, exclude)
                      | (self._accounting_users(self.s.discover_days) - exclude))
        known = set(self._load_json(self.paths.known_users, []))
        purged = self._load_purged()
        queued = {entry["user"] for entry in self.cursor.get("backfill_queue", [])}
        wanted = discover_mod.to_queue(candidates, known, set(self._users_on_disk()), purged, self.optout)
        first = month_of_epoch(self.backfill_epoch)
        queue = self.cursor.setdefault("backfill_queue", [])
        for user, since in sorted(wanted.items()):
            if user not in queued:
                queue.append({"user": user, "next_month": since or first, "until": month_of_epoch(now)})
        new_known = sorted(known | {u for u in candidates if not self.optout(u)})
        self.say("{}: {} user(s) found ({} new); {} targeted backfill(s) queued for poll".format(
            self.s.cluster, len(candidates), len(set(candidates) - known), len(queue) - len(queued)))
        if self.dry_run:
            return 0
        tx = Transaction(self.paths)
        tx.write(self.paths.known_users, (json.dumps(new_known, indent=0) + "\n").encode())
        tx.write(self.paths.cursor, _cursor_json(self.cursor))
        tx.commit()
        return 0

    def _work_queue(self):
        """Targeted backfills queued by discover: one user-month per commit, until the rate limit says stop."""
        queue = self.cursor.get("backfill_queue") or []
        while queue:
            entry = queue[0]
            month, user = entry["next_month"], entry["user"]

            def advance(cursor, piece_end, month=month, entry=entry):
                if piece_end >= min(month_end(month), self._settled()):
                    entry["next_month"] = next_month(month)
                    if entry["next_month"] > entry["until"]:
                        cursor["backfill_queue"].remove(entry)

            if self.optout(user):  # opted out since discover queued them: nothing of theirs is read
                queue.remove(entry)
                self._commit_cursor_only(None, 0)
                continue
            self._user_month(month, user, set(self._load_purged().get(user, ())), advance)

    def _commit_cursor_only(self, advance, piece_end):
        if advance:
            advance(self.cursor, piece_end)
        if not self.dry_run:
            atomic_write(self.paths.cursor, _cursor_json(self.cursor))

    def _retrying(self, step):
        """Run a step, waiting out failures with exponential backoff (backfill may sleep; poll may not)."""
        failures = 0
        while True:
            try:
                return step()
            except sacct_mod.SacctError as err:
                failures += 1
                self._sacct_failed(err)
                if failures >= MAX_CONSECUTIVE_FAILURES or self.dry_run:
                    raise CollectorError("giving up after {} failed sacct calls in a row".format(failures))
                self.sleep(self.pacer.backoff_wait())

    # ---- rebuild and replay -------------------------------------------------------------------

    def _rebuild(self):
        """Recompute every user file from the monthly rollups, then the leaderboards."""
        self._purge_opted_out(all_homes=True)
        totals = {}
        months = self._months_on_disk()
        for month in months:
            for user, counters in self._monthly_totals(month).items():
                add_into(totals.setdefault(user, zero()), counters)
        now = self.clock()
        tx = Transaction(self.paths)
        for user in sorted(totals):
            tx.write(self.paths.user(user), user_json(user, self.s.cluster, totals[user], now))
        for user in set(self._users_on_disk()) - set(totals):
            tx.delete(self.paths.user(user))
        tx.delete(self.paths.boards_stamp)
        tx.commit()
        self._write_boards()
        self.say("{}: rebuilt {} user file(s) and the leaderboards from {} monthly rollup(s)".format(
            self.s.cluster, len(totals), len(months)))
        return 0

    def _replay(self, path):
        """Count a saved `sacct -P` dump (header line first, '|' between fields), e.g. made elsewhere."""
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = handle.readline().rstrip("\r\n").split("|")
            missing = [f for f in FIELDS if f not in header]
            if missing:
                raise CollectorError("{}: the header line lacks {}; expected `sacct -P` output with a header "
                                     "line".format(path, ", ".join(missing)))
            intake = Intake(self, None, self.piece_jobs)
            lines = _canonical(handle, header, sacct_mod.DELIMITER)
            intake.take(fold_jobs(lines, sacct_mod.DELIMITER, intake.report, self.failure_states))
        self._commit(intake, "replay of " + os.path.basename(path), 0, with_cursor=False)
        self._purge_opted_out()
        self._write_boards()
        self.say("{}: {} new job(s) from {}".format(self.s.cluster, intake.jobs, path))
        return 0

    # ---- reading windows and committing them --------------------------------------------------

    def _prepare_fields(self):
        if self.fields is None:
            self.fields, self.tres_memory = sacct_mod.choose_fields(sacct_mod.known_fields(self.s.sacct))

    def _window(self, start, end, advance, user=None, label=None, recount=None):
        """Read [start, end] in pieces sacct accepts. Each piece is committed with its cursor change
        `advance(cursor, piece_end)`, except in a recount, where the pieces are committed as one."""
        intake, began = Intake(self, recount, self.piece_jobs), time.time()
        piece_start = start
        while piece_start <= end:
            piece_end = min(end, piece_start + self._widest() - 1)
            try:
                self._read(piece_start, piece_end, intake, user)
            except _Narrower:
                continue  # same piece start, narrower piece
            if not recount:
                self._finish(intake, piece_end, advance, label or _span(piece_start, piece_end), began)
                intake, began = Intake(self, None, self.piece_jobs), time.time()
            piece_start = piece_end + 1
        if recount:
            self._finish(intake, end, advance, label or _span(start, end), began, replace=(recount, start, end))

    def _widest(self):
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
        self._commit(intake, label, time.time() - began, replace=replace)

    def _read(self, start, end, intake, user):
        argv = sacct_mod.command(self.s.sacct, self.s.cluster, start, end, self.fields, user)
        self._show(argv)
        if self.dry_run:
            return
        self.pacer.before_call()
        outcomes = intake.jobs + intake.report.total()
        try:
            with sacct_mod.stream(argv, self.s.sacct_timeout_sec) as lines:
                intake.take(fold_jobs(lines, sacct_mod.DELIMITER, intake.report, self.failure_states,
                                      self.tres_memory))
        except sacct_mod.SacctError as err:
            intake.close()
            if not err.too_wide or intake.jobs + intake.report.total() != outcomes:
                raise
            if end - start < NARROWEST_WINDOW:
                raise sacct_mod.SacctError("slurmdbd refuses even a {} s window as too wide; ask the admins "
                                           "about MaxQueryTimeRange".format(end - start + 1))
            self.cursor["too_wide_sec"] = end - start + 1
            atomic_write(self.paths.cursor, _cursor_json(self.cursor))  # remembered even if this run stops here
            self.say("{}: slurmdbd refused {} as too wide (MaxQueryTimeRange); reading {} s at a time".format(
                self.s.cluster, _span(start, end), self._widest()))
            raise _Narrower()

    def commit_piece(self, intake):
        """Commit the jobs in hand in the middle of a long window (see Intake); the cursor and the problem
        log wait for the window's end."""
        self._commit(intake, None, 0, with_cursor=False, piece=True)
        intake.next_piece()

    def _commit(self, intake, label, seconds, replace=None, with_cursor=True, piece=False):
        """One transaction: daily + monthly rollups, user totals, seen identities, problem log, cursor.

        `replace=(user, start, end)`: the batch holds a full recount of that user's jobs ending in
        [start, end], which replaces what is stored for them on those days. `piece`: a part of a window
        (no problem log, no cursor, no report line).
        """
        now = self.clock()
        batch, tx = intake.batch, Transaction(self.paths)
        deltas = batch.user_totals()
        months = set(batch.months)
        if replace:
            months.add(month_of_epoch(replace[1]))
        for month in sorted(months):
            daily = self._load_daily(month)
            if replace and month == month_of_epoch(replace[1]):
                removed = remove_user(daily, month, replace[0], replace[1] // DAY, replace[2] // DAY)
                deltas[replace[0]] = add_into(deltas.get(replace[0], zero()), [-v for v in removed])
            merge_days(daily, batch.months.get(month, {}))
            tx.write(self.paths.daily(month), daily_json(month, daily))
            tx.write(self.paths.monthly(month), monthly_json(month, month_totals(daily), now))
        for user, delta in sorted(deltas.items()):
            counters = add_into(self._load_user(user), delta)
            if counters[0]:
                tx.write(self.paths.user(user), user_json(user, self.s.cluster, counters, now))
            else:
                tx.delete(self.paths.user(user))
        for month in sorted(intake.seen):
            if intake.seen[month].added:
                tx.write_with(self.paths.seen(month), intake.seen[month].write)
        if replace:
            self._stage_purged(tx, {replace[0]: set()}, done=month_of_epoch(replace[1]))
        if batch.jobs or replace:
            tx.delete(self.paths.boards_stamp)  # the boards are out of date from this commit on
        if piece:
            tx.commit()
            self.totals["new"] += batch.jobs
            return
        self._stage_problems(tx, intake.report, label)
        if with_cursor:
            self.cursor["last_success"] = int(now)
            tx.write(self.paths.cursor, _cursor_json(self.cursor))
        tx.commit()
        intake.close()
        self._report(intake, label, batch.jobs, seconds)

    def _stage_problems(self, tx, report, label):
        """Append this window's unreadable lines to state/problems.log, inside the transaction."""
        if not report.get("malformed") + report.get("orphan_step"):
            return
        counts = ", ".join("{} {}".format(n, reason) for reason, n in sorted(report.counts.items()))
        lines = ["{} window {}: {}".format(iso_utc(self.clock()), label, counts)]
        lines += ["    " + example for example in report.examples]
        log = (read_bytes(self.paths.log) or b"") + ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
        if len(log) > PROBLEM_LOG_LIMIT:  # keep the newest half, from a line start
            tail = log[-PROBLEM_LOG_LIMIT // 2:]
            log = tail[tail.find(b"\n") + 1:]
        tx.write(self.paths.log, log)

    def _report(self, intake, label, committed, seconds):
        """Tally a window's final commit (`committed` new jobs; earlier pieces are tallied already) and
        say what the whole window counted."""
        self.totals["new"] += committed
        self.totals["windows"] += 1
        report = intake.report
        problems = report.get("malformed") + report.get("orphan_step")
        self.totals["problems"] += problems
        new_jobs = intake.jobs
        if self.verbose or self.interactive:
            rate = " ({:,.0f} jobs/s)".format(new_jobs / seconds) if seconds > 0 and new_jobs else ""
            self.say("{}: {}: {:,} new job(s){}, {:,} already counted{}".format(
                self.s.cluster, label, new_jobs, rate, report.get("already_counted"),
                ", {} problem line(s)".format(problems) if problems else ""))
        if problems:
            self.warn("{}: {}: {} malformed line(s) and {} orphan step line(s) skipped; details in {}".format(
                self.s.cluster, label, report.get("malformed"), report.get("orphan_step"), self.paths.log))

    def _summary(self):
        cursor = self.cursor
        where = ("cold start at {}".format(cursor["next_month"]) if not cursor["coldstart_done"]
                 else "up to {}".format(iso_utc(cursor["watermark"])))
        problems = self.totals["problems"]
        self.say("{}: {} new job(s) in {} window(s){}; data {}".format(
            self.s.cluster, self.totals["new"], self.totals["windows"],
            ", {} unreadable line(s) skipped (see {})".format(problems, self.paths.log) if problems else "", where))

    # ---- opt-out purge ------------------------------------------------------------------------

    def _purge_opted_out(self, all_homes=False):
        """Remove from every file the users who opted out after being counted, remembering which
        months held their data (state/purged.json) so an opt-in can recount exactly those."""
        if self.dry_run:
            return
        months = self._months_on_disk()
        if all_homes:
            known = set(self._users_on_disk()).union(*(self._monthly_totals(m) for m in months))
            gone = {u for u in known if self.optout(u)}
        else:
            gone = {u for u in self._users_on_disk() if u in self.optout.listed or self.optout.cached(u)}
        if not gone:
            return
        tx, now, held = Transaction(self.paths), self.clock(), {user: set() for user in gone}
        for month in months:
            daily = self._load_daily(month)
            present = {user for user in gone if any(user in day for day in daily.values())}
            for user in present:
                remove_user(daily, month, user)
                held[user].add(month)
            if present:
                tx.write(self.paths.daily(month), daily_json(month, daily))
                tx.write(self.paths.monthly(month), monthly_json(month, month_totals(daily), now))
        for user in gone:
            tx.delete(self.paths.user(user))
        tx.delete(self.paths.boards_stamp)
        self._stage_purged(tx, held)
        tx.commit()
        self.say("{}: removed {} opted-out user(s) from the stored data".format(self.s.cluster, len(gone)))

    def _stage_purged(self, tx, held, done=None):
        """Add months to (or, with `done`, remove that month from) users' purged-month records."""
        purged = self._load_purged()
        for user, months in held.items():
            months = set(purged.get(user, ())) | months
            months.discard(done)
            if months:
                purged[user] = sorted(months)
            else:
                purged.pop(user, None)
        tx.write(self.paths.purged, (json.dumps(purged, indent=1, sort_keys=True) + "\n").encode())

    def _load_purged(self):
        return self._load_json(self.paths.purged, {})

    def _load_json(self, path, empty):
        data = read_bytes(path)
        return empty if data is None else _parse_json(data, path)

    # ---- leaderboards -------------------------------------------------------------------------

    def _write_boards(self):
        """Rebuild the three leaderboards, unless nothing they show can have changed: no commit has counted
        or removed a job since they were written (every such commit deletes state/boards.json in its
        transaction), the UTC day is the same (the rolling windows move at midnight), and so are the
        settings they depend on. Then a tick with nothing new reads no user file and no rollup."""
        if self.dry_run:
            return
        now = self.clock()
        today = int(now) // DAY
        stamp = {"cluster": self.s.cluster, "day": today, "min_jobs": self.s.min_jobs, "board_top": self.s.board_top}
        if _read_json_or_none(self.paths.boards_stamp) == stamp and all(
                os.path.exists(self.paths.board(filename)) for _, filename, _ in WINDOWS):
            return
        for window, filename, days in WINDOWS:
            totals = (self._all_user_totals() if days is None else
                      window_totals(self._load_daily, today - days + 1, today))
            data = board_json(window, self.s.cluster, self.s.min_jobs, totals, now, self.s.board_top)
            atomic_write(self.paths.board(filename), data)
        atomic_write(self.paths.boards_stamp, (json.dumps(stamp, sort_keys=True) + "\n").encode())

    def _all_user_totals(self):
        return {user: self._load_user(user) for user in self._users_on_disk()}

    # ---- state files --------------------------------------------------------------------------

    def _load_cursor(self):
        data = read_bytes(self.paths.cursor)
        if data is not None:
            cursor = _parse_json(data, self.paths.cursor)
            if cursor.get("cluster") != self.s.cluster:
                raise CollectorError("{} belongs to cluster {!r}, not {!r}".format(
                    self.paths.cursor, cursor.get("cluster"), self.s.cluster))
            return cursor
        open_month = month_of_epoch(self.clock())
        first = normalize_month(self.s.backfill_start)
        return {"schema_version": 1, "cluster": self.s.cluster, "backfill_start": self.s.backfill_start,
                "coldstart_until": open_month, "coldstart_done": first >= open_month,
                "next_month": None if first >= open_month else first, "coldstart_pos": None,
                "last_complete_month": None, "watermark": max(month_start(open_month), self.backfill_epoch),
                "last_success": None}

    def load_seen(self, month):
        try:
            return SeenMonth.open(month, self.paths.seen(month), self.s.bloom_fp_rate)
        except (ValueError, KeyError, TypeError) as err:
            raise CollectorError("{} is damaged ({}); restore it from backup, or quarantine that month "
                                 "before re-reading it".format(self.paths.seen(month), err))

    def _load_daily(self, month):
        data = read_bytes(self.paths.daily(month))
        return {} if data is None else _guard(parse_daily, data, self.paths.daily(month))

    def _monthly_totals(self, month):
        data = read_bytes(self.paths.monthly(month))
        return {} if data is None else _guard(parse_monthly, data, self.paths.monthly(month))

    def _load_user(self, user):
        path = self.paths.user(user)
        data = read_bytes(path)
        return zero() if data is None else _guard(lambda d, w: parse_user(d, self.s.cluster, w), data, path)

    def _users_on_disk(self):
        return sorted(name[:-5] for name in _listdir(self.paths.users_dir)
                      if name.endswith(".json") and not name.startswith(".") and is_valid_user(name[:-5]))

    def _months_on_disk(self):
        return sorted(name[:-5] for name in _listdir(self.paths.monthly_dir)
                      if name.endswith(".json") and not name.startswith("."))


def _canonical(lines, header, delimiter):
    """Lines of a saved dump (any field order, '|') → FIELDS order. Like sacct itself, an empty
    MaxRSS/AveRSS is taken from the TRES usage mem= when the dump has it."""
    index = [header.index(f) for f in FIELDS]
    fallback = [(FIELDS.index(f), header.index(t)) for f, t in MEMORY_FALLBACK.items() if t in header]
    width = len(header)
    for line in lines:
        if line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("|")
        if len(parts) != width:
            yield line.rstrip("\r\n").replace("|", delimiter) + "\n"  # malformed: fold reports it
            continue
        row = [parts[i] for i in index]
        for position, source in fallback:
            if not row[position]:
                row[position] = tres_value(parts[source], "mem=") or ""
        yield delimiter.join(row) + "\n"


def _first_day(start):
    """'2024-03' → '2024-03-01'; a full date stays."""
    start = str(start)
    return start if start.count("-") == 2 else start + "-01"


def _span(start, end):
    return "{} .. {}".format(sacct_time(start), sacct_time(end))


def _listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _guard(parse, data, path):
    try:
        return parse(data, path)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
        raise CollectorError("{} is damaged ({}); restore it from backup".format(path, err))


def _read_json_or_none(path):
    """A small state file that may be rebuilt at will: None when absent or unreadable."""
    try:
        return json.loads((read_bytes(path) or b"null").decode())
    except (ValueError, UnicodeDecodeError, OSError):
        return None


def _parse_json(data, path):
    return _guard(lambda text, _: json.loads(text.decode()), data, path)


def _cursor_json(cursor):
    return (json.dumps(cursor, indent=1, sort_keys=True) + "\n").encode()

"""The collector's wiring: sacct windows → deduped jobs → one committed transaction each → leaderboards.

Every window read from sacct is either committed whole (rollups, user totals, seen identities and the
cursor in one Transaction) or not at all, so kill -9, a failed sacct call or a re-run never loses or
double counts a job.
"""
import json
import os
import shlex
import time

from sb import sacct as sacct_mod
from sb.jobs import Layout, LineReport, fold_jobs
from sb.leaderboard import WINDOWS, board_json, rank
from sb.optout import OptOut
from sb.pacing import Deferred, Pacer
from sb.parse import is_valid_user
from sb.rollup import (Batch, add_into, daily_json, merge_days, month_totals, monthly_json, parse_daily,
                       parse_monthly, parse_user, user_json, zero)
from sb.seen import SeenMonth
from sb.store import Busy, ClusterLock, ClusterPaths, Transaction, atomic_write, read_bytes, recover
from sb.timeutil import (DAY, iso_utc, month_end, month_of_epoch, month_start, next_month,
                         normalize_month, parse_when, sacct_time)

FAILURE_STATES_WITH_CANCELLED = ("CANCELLED",)
MAX_CONSECUTIVE_FAILURES = 5


class CollectorError(Exception):
    """A problem the user must fix (bad state file, sacct unusable); the message says what to do."""


class Intake:
    """The jobs of one or more sacct windows: opt-outs dropped, already counted ones skipped, the rest tallied."""

    def __init__(self, collector, user=None):
        self.c = collector
        self.user = user
        self.batch = Batch()
        self.seen = {}
        self.report = LineReport()
        self.counted_here = set()
        self._fresh = {}

    def take(self, jobs):
        optout, report = self.c.optout, self.report
        for job in jobs:
            if optout(job.user):
                report.add("opted_out")
                continue
            month = month_of_epoch(job.end)
            seen = self._seen_month(month)
            if job.key in seen:
                if not self._is_fresh(job.user, month) or job.key in self.counted_here:
                    report.add("already_counted")
                    continue
            else:
                seen.add(job.key)
            if self.user is not None:  # a targeted backfill may pass seen keys: never the same one twice
                self.counted_here.add(job.key)
            self.batch.add(job)

    def _seen_month(self, month):
        seen = self.seen.get(month)
        if seen is None:
            seen = self.seen[month] = self.c.load_seen(month)
        return seen

    def _is_fresh(self, user, month):
        """In a targeted user backfill: the user has nothing in this month's rollup, so none of their
        jobs there is counted, even if seen (their data was purged at an opt-out)."""
        if self.user is None:
            return False
        if month not in self._fresh:
            self._fresh[month] = user not in self.c.load_month_users(month)
        return self._fresh[month]


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
        kwargs = {"home_lookup": home_lookup} if home_lookup else {}
        self.optout = OptOut(settings.root, **kwargs)
        states = tuple(settings.failure_states)
        if settings.count_cancelled_as_failure:
            states += FAILURE_STATES_WITH_CANCELLED
        self.failure_states = states
        self.pacer = None
        self.layout = None
        self.cursor = None
        self.totals = {"new": 0, "windows": 0, "problems": 0}

    # ---- entry points: each returns an exit status -------------------------------------------

    def poll(self):
        return self._run(self._poll)

    def backfill(self, since=None, until=None, user=None):
        return self._run(self._backfill, since, until, user)

    def rebuild(self):
        return self._run(self._rebuild)

    def replay(self, path):
        return self._run(self._replay, path)

    def _run(self, work, *args):
        if self.dry_run:
            self.cursor = self._load_cursor()
            self.pacer = Pacer(self.paths.pacing, 0, 0, self.clock, self.sleep, 0)
            self.layout = Layout(sacct_mod.REQUIRED_FIELDS, sacct_mod.DELIMITER)
            return work(*args)
        os.umask(0o002)  # files world-readable, directories group-writable (spec §20)
        self.paths.make_dirs()
        try:
            with ClusterLock(self.paths):
                replayed, swept = recover(self.paths)
                if self.verbose and (replayed or swept):
                    self.say("recovered: finished an interrupted commit" if replayed else
                             "recovered: removed {} temp file(s) of an interrupted run".format(swept))
                self.pacer = Pacer(self.paths.pacing, self.s.rate_limit_per_min, self.s.backoff_max_sec,
                                   self.clock, self.sleep, self.max_wait)
                self.cursor = self._load_cursor()
                return work(*args)
        except Busy as busy:
            self.say("{}: another collector holds {} ({}); leaving it the work".format(
                self.s.cluster, self.paths.lock, busy))
            return 0

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
            if not self.cursor["coldstart_done"]:
                self._coldstart_month()
            self._catch_up()
        except Deferred as deferred:
            self.say("{}: {}; the rest waits for the next tick".format(self.s.cluster, deferred))
        except sacct_mod.SacctError as err:
            status = self._sacct_failed(err)
        self._purge_opted_out()
        self._write_boards()
        self._summary()
        return status

    def _sacct_failed(self, err):
        if not self.dry_run:
            self.pacer.failed()
        self.warn("{}: {} — nothing was committed for that window; the next run retries it".format(
            self.s.cluster, err))
        return 1

    def _coldstart_month(self):
        month = self.cursor["next_month"]
        start = max(month_start(month), self._backfill_epoch())

        def advance(cursor):
            following = next_month(month)
            cursor["last_complete_month"] = month
            cursor["coldstart_done"] = following >= cursor["coldstart_until"]
            cursor["next_month"] = None if cursor["coldstart_done"] else following

        self._window(start, month_end(month), advance, label=month)

    def _catch_up(self):
        now = int(self.clock())
        start = max(0, self.cursor["watermark"] - self.s.late_window_sec)
        span = self.s.max_window_days * DAY
        while start <= now:
            end = min(now, start + span - 1)
            self._window(start, end, lambda cursor, end=end: cursor.update(watermark=end + 1))
            start = end + 1

    # ---- backfill -----------------------------------------------------------------------------

    def _backfill(self, since, until, user):
        self._prepare_fields()
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
        """Re-read chosen months (dedupe makes it safe); with a user, only their jobs."""
        now = int(self.clock())
        first = normalize_month(since or self.s.backfill_start)
        last = min(normalize_month(until) if until else month_of_epoch(now), month_of_epoch(now))
        month = first
        while month <= last:
            end = min(month_end(month), now)
            self._retrying(lambda m=month, e=end: self._window(month_start(m), e, None, user, label=m))
            month = next_month(month)
            if month <= last and self.pacer.enabled and not self.dry_run:
                self.sleep(self.s.backfill_sleep_sec)

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
        for month in self._months_on_disk():
            for user, counters in self._monthly_totals(month).items():
                add_into(totals.setdefault(user, zero()), counters)
        now = self.clock()
        tx = Transaction(self.paths)
        for user in sorted(totals):
            tx.write(self.paths.user(user), user_json(user, self.s.cluster, totals[user], now))
        for user in set(self._users_on_disk()) - set(totals):
            tx.delete(self.paths.user(user))
        tx.commit()
        self._write_boards()
        self.say("{}: rebuilt {} user file(s) and the leaderboards from {} monthly rollup(s)".format(
            self.s.cluster, len(totals), len(self._months_on_disk())))
        return 0

    def _replay(self, path):
        """Count a saved `sacct -P` dump (header line first, '|' between fields), e.g. made elsewhere."""
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = handle.readline().rstrip("\r\n").split("|")
            try:
                layout = Layout(header, "|")
            except ValueError as err:
                raise CollectorError("{}: header line {}; expected sacct -P output with a header".format(path, err))
            intake = Intake(self)
            lines = (line for line in handle if not line.startswith("#"))
            intake.take(fold_jobs(lines, layout, intake.report, self.failure_states))
        self._commit(intake, None, "replay of " + os.path.basename(path), 0)
        self._purge_opted_out()
        self._write_boards()
        self.say("{}: {} new job(s) from {}".format(self.s.cluster, intake.batch.jobs, path))
        return 0

    # ---- reading one window and committing it -------------------------------------------------

    def _prepare_fields(self):
        if self.layout is None:
            fields = sacct_mod.choose_fields(sacct_mod.known_fields(self.s.sacct))
            self.layout = Layout(fields, sacct_mod.DELIMITER)

    def _window(self, start, end, advance, user=None, label=None):
        """Read [start, end] from sacct and commit it with the cursor change `advance`."""
        began = time.time()
        intake = Intake(self, user)
        self._read(start, end, intake, user)
        if advance:
            advance(self.cursor)  # in a dry run only in memory, so a dry backfill walks every month
        if self.dry_run:
            return
        self.pacer.succeeded()
        label = label or "{} .. {}".format(sacct_time(start), sacct_time(end))
        self._commit(intake, self.cursor, label, time.time() - began)

    def _read(self, start, end, intake, user):
        limit = self.cursor.get("too_wide_sec")
        if limit and end - start >= limit:  # slurmdbd refused this width before: split up front
            middle = start + (end - start) // 2
            self._read(start, middle, intake, user)
            return self._read(middle + 1, end, intake, user)
        argv = sacct_mod.command(self.s.sacct, self.s.cluster, start, end, self.layout.fields, user)
        if self.verbose or self.dry_run:
            self.say("$ TZ=UTC SLURM_TIME_FORMAT=%s " + " ".join(shlex.quote(a) for a in argv))
        if self.dry_run:
            return
        self.pacer.before_call()
        lines_read = [0]

        def counted(lines):
            for line in lines:
                lines_read[0] += 1
                yield line

        try:
            with sacct_mod.stream(argv, self.s.sacct_timeout_sec) as lines:
                intake.take(fold_jobs(counted(lines), self.layout, intake.report, self.failure_states))
        except sacct_mod.SacctError as err:
            if not err.too_wide or lines_read[0] or end <= start:
                raise
            self.cursor["too_wide_sec"] = end - start  # remembered with the next commit
            self.say("{}: slurmdbd refused {} .. {} as too wide (MaxQueryTimeRange); splitting it".format(
                self.s.cluster, sacct_time(start), sacct_time(end)))
            middle = start + (end - start) // 2
            self._read(start, middle, intake, user)
            self._read(middle + 1, end, intake, user)

    def _commit(self, intake, cursor, label, seconds):
        """One transaction: daily + monthly rollups, user totals, seen identities, cursor."""
        now = self.clock()
        batch, tx = intake.batch, Transaction(self.paths)
        for month in sorted(batch.months):
            daily = merge_days(self._load_daily(month), batch.months[month])
            tx.write(self.paths.daily(month), daily_json(month, daily))
            tx.write(self.paths.monthly(month), monthly_json(month, month_totals(daily), now))
        for user, delta in sorted(batch.user_totals().items()):
            counters = add_into(self._load_user(user), delta)
            tx.write(self.paths.user(user), user_json(user, self.s.cluster, counters, now))
        for month in sorted(intake.seen):
            if intake.seen[month].added:
                tx.write(self.paths.seen(month), intake.seen[month].to_bytes())
        if cursor is not None:
            cursor["last_success"] = int(now)
            tx.write(self.paths.cursor, _cursor_json(cursor))
        tx.commit()
        self._report(intake, label, batch.jobs, seconds)

    def _report(self, intake, label, new_jobs, seconds):
        self.totals["new"] += new_jobs
        self.totals["windows"] += 1
        report = intake.report
        problems = report.get("malformed") + report.get("orphan_step")
        self.totals["problems"] += problems
        if self.verbose or self.interactive:
            rate = " ({:,.0f} jobs/s)".format(new_jobs / seconds) if seconds > 0 and new_jobs else ""
            self.say("{}: {}: {:,} new job(s){}, {:,} already counted{}".format(
                self.s.cluster, label, new_jobs, rate, report.get("already_counted"),
                ", {} problem line(s)".format(problems) if problems else ""))
        if problems:
            self._log_problems(report, label)
            self.warn("{}: {}: {} malformed line(s) and {} orphan step line(s) skipped; details in {}".format(
                self.s.cluster, label, report.get("malformed"), report.get("orphan_step"), self.paths.log))

    def _log_problems(self, report, label):
        counts = ", ".join("{} {}".format(n, reason) for reason, n in sorted(report.counts.items()))
        lines = ["{} window {}: {}".format(iso_utc(self.clock()), label, counts)]
        lines += ["    " + example for example in report.examples]
        if os.path.exists(self.paths.log) and os.path.getsize(self.paths.log) > 1 << 20:
            os.replace(self.paths.log, self.paths.log + ".1")
        with open(self.paths.log, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

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
        """Remove from every file the users who opted out after being counted."""
        if self.dry_run:
            return
        on_disk = self._users_on_disk()
        if all_homes:
            gone = {u for u in on_disk if self.optout(u)}
        else:
            gone = {u for u in on_disk if u in self.optout.listed or self.optout.cached(u)}
        if not gone:
            return
        tx = Transaction(self.paths)
        now = self.clock()
        for month in self._months_on_disk():
            daily = self._load_daily(month)
            if any(user in day for day in daily.values() for user in gone):
                for day in daily.values():
                    for user in gone:
                        day.pop(user, None)
                tx.write(self.paths.daily(month), daily_json(month, daily))
                tx.write(self.paths.monthly(month), monthly_json(month, month_totals(daily), now))
        for user in gone:
            tx.delete(self.paths.user(user))
        tx.commit()
        self.say("{}: removed {} opted-out user(s) from the stored data".format(self.s.cluster, len(gone)))

    # ---- leaderboards -------------------------------------------------------------------------

    def _write_boards(self):
        if self.dry_run:
            return
        now = self.clock()
        today = int(now) // DAY
        for window, filename, days in WINDOWS:
            totals = self._all_user_totals() if days is None else self._window_totals(today - days + 1, today)
            data = board_json(window, self.s.cluster, self.s.min_jobs, rank(totals, self.s.min_jobs), now)
            atomic_write(self.paths.board(filename), data)

    def _window_totals(self, first_day, last_day):
        """{user: counters} of jobs whose End falls on UTC days first_day..last_day."""
        totals = {}
        month = month_of_epoch(first_day * DAY)
        while month <= month_of_epoch(last_day * DAY):
            month_first_day = month_start(month) // DAY
            for label, users in self._load_daily(month).items():
                if first_day <= month_first_day + int(label) - 1 <= last_day:
                    for user, counters in users.items():
                        add_into(totals.setdefault(user, zero()), counters)
            month = next_month(month)
        return totals

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
                "next_month": None if first >= open_month else first, "last_complete_month": None,
                "watermark": month_start(open_month), "last_success": None}

    def _backfill_epoch(self):
        start = str(self.cursor["backfill_start"])
        return parse_when(start if start.count("-") == 2 else start + "-01")

    def load_seen(self, month):
        data = read_bytes(self.paths.seen(month))
        if data is None:
            return SeenMonth(month, self.s.bloom_fp_rate)
        try:
            return SeenMonth.from_bytes(month, data, self.s.bloom_fp_rate, self.paths.seen(month))
        except (ValueError, KeyError) as err:
            raise CollectorError("{} is damaged ({}); restore it from backup, or quarantine that month "
                                 "before re-reading it".format(self.paths.seen(month), err))

    def load_month_users(self, month):
        return set(self._monthly_totals(month))

    def _load_daily(self, month):
        data = read_bytes(self.paths.daily(month))
        if data is None:
            return {}
        return _guard(parse_daily, data, self.paths.daily(month))

    def _monthly_totals(self, month):
        data = read_bytes(self.paths.monthly(month))
        return {} if data is None else _guard(parse_monthly, data, self.paths.monthly(month))

    def _load_user(self, user):
        path = self.paths.user(user)
        data = read_bytes(path)
        if data is None:
            return zero()
        return _guard(lambda d, w: parse_user(d, self.s.cluster, w), data, path)

    def _users_on_disk(self):
        names = []
        for name in _listdir(self.paths.users_dir):
            if name.endswith(".json") and not name.startswith(".") and is_valid_user(name[:-5]):
                names.append(name[:-5])
        return sorted(names)

    def _months_on_disk(self):
        return sorted(name[:-5] for name in _listdir(self.paths.monthly_dir)
                      if name.endswith(".json") and not name.startswith("."))


def _listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _guard(parse, data, path):
    try:
        return parse(data, path)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise CollectorError("{} is damaged ({}); restore it from backup".format(path, err))


def _parse_json(data, path):
    try:
        return json.loads(data.decode())
    except ValueError as err:
        raise CollectorError("{} is not valid JSON ({}); restore it from backup".format(path, err))


def _cursor_json(cursor):
    return (json.dumps(cursor, indent=1, sort_keys=True) + "\n").encode()

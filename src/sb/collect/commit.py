"""An Intake's batch → one Transaction: daily and monthly rollups, user totals, seen identities, problem log, cursor."""
import json

from sb.collect import cursor as cursor_file, heal
from sb.collect.purge import stage_purged
from sb.store.files import Transaction, read_bytes
from sb.store.rollups import daily_json, merge_days, merge_split, month_totals, monthly_json, remove_user, user_json
from sb.timeutil import DAY, iso_utc, month_of_epoch

PROBLEM_LOG_LIMIT = 1 << 20
REPORTED_KEEP_SEC = 3 * 86400   # an unreadable line re-read within this is not reported again
ORDINARY = {"not_started", "not_ended", "opted_out"}   # lines that are not jobs to count, and no problem either


def commit(engine, intake, label, seconds, replace=None, with_cursor=True, piece=False):
    """One transaction: daily + monthly rollups, user totals, seen identities, problem log, cursor.

    `replace=(user, start, end)`: the batch holds a full recount of that user's jobs ending in
    [start, end], which replaces what is stored for them on those days. `piece`: a part of a window
    (no problem log, no cursor, no report line, and no user files: those are derived, so a window's pieces
    add up their deltas and its last commit writes each user once; the manifest marks the user files as
    behind meanwhile, so a run killed between pieces has them rebuilt from the rollups by the next).
    With engine.held_users set (backfill), windows hold their user deltas too, until write_held_users.
    """
    paths, now = engine.paths, engine.clock()
    batch, tx = intake.batch, Transaction(paths)
    everyone = replace and replace[0] == heal.EVERYONE
    deltas = {} if everyone else batch.user_totals()
    months = set() if everyone else set(batch.months)
    if everyone:
        month = month_of_epoch(replace[1])
        heal.replace_month(engine, tx, month, batch.months.get(month, {}), batch.jobs)
    elif replace:
        months.add(month_of_epoch(replace[1]))
    for month in sorted(months):
        daily = engine.data.daily(month)
        if replace and month == month_of_epoch(replace[1]):
            removed = remove_user(daily, month, replace[0], replace[1] // DAY, replace[2] // DAY)
            merge_split(deltas.setdefault(replace[0], {}), removed, -1)
        merge_days(daily, batch.months.get(month, {}))
        tx.write(paths.daily(month), daily_json(month, daily))
        tx.write(paths.monthly(month), monthly_json(month, month_totals(daily), now))
    if everyone and engine.held_users is not None:
        engine.held_users = {}   # replace_month restaged every user file from the rollups, held ones included
    if piece:
        _hold_user_deltas(engine, intake.user_deltas, deltas)
        deltas = {}
    else:
        for user, delta in intake.user_deltas.items():
            merge_split(deltas.setdefault(user, {}), delta)
        if engine.held_users is not None and not everyone:   # a run that writes them once, at its end
            _hold_user_deltas(engine, engine.held_users, deltas)
            deltas = {}
        elif engine.manifest is not None:
            engine.manifest.pop("users_behind", None)
    _stage_user_files(engine, tx, deltas, now)
    for month, seen in sorted(intake.seen.items()):   # one file per Submit month the batch touched
        if seen.added:
            tx.write_with(paths.seen(month), seen.write)
    if replace and not everyone:
        stage_purged(engine, tx, {replace[0]: set()}, done=month_of_epoch(replace[1]))
    if batch.jobs or replace:
        tx.delete(paths.boards_stamp)  # the boards are out of date from this commit on
    heal.stage_manifest(engine, tx)
    if piece:
        tx.commit()
        engine.totals["new"] += batch.jobs
        return
    fresh = _stage_problems(engine, tx, intake, label)
    if with_cursor:
        engine.cursor["last_success"] = int(now)
        tx.write(paths.cursor, cursor_file.to_json(engine.cursor))
    tx.commit()
    intake.close()
    _report(engine, intake, label, batch.jobs, seconds, {reason: len(marks) for reason, marks in fresh.items()})


def _hold_user_deltas(engine, held, deltas):
    for user, delta in deltas.items():
        merge_split(held.setdefault(user, {}), delta)
    if engine.manifest is not None:
        engine.manifest["users_behind"] = True


def _stage_user_files(engine, tx, deltas, now):
    for user, delta in sorted(deltas.items()):
        split = merge_split(engine.data.user(user), delta, prune=True)
        if split:
            tx.write(engine.paths.user(user), user_json(user, engine.s.cluster, split, now))
        else:
            tx.delete(engine.paths.user(user))


def write_held_users(engine):
    """End of a run that held its user totals (engine.held_users, set by backfill): write each user once,
    and clear the manifest's users_behind in the same transaction. A run killed before this leaves
    users_behind set, and the next run rebuilds the user files from the rollups (heal.check)."""
    held, engine.held_users = engine.held_users, None
    if engine.dry_run or held is None or engine.manifest is None or not engine.manifest.get("users_behind"):
        return
    tx = Transaction(engine.paths)
    _stage_user_files(engine, tx, held, engine.clock())
    engine.manifest.pop("users_behind")
    heal.stage_manifest(engine, tx)
    tx.commit()


def _stage_problems(engine, tx, intake, label):
    """Append this window's count of every kind of line that did not become a new job to state/problems.log,
    with the unreadable lines not reported before (a line re-read by the late window is reported once),
    inside the transaction. Returns how many unreadable lines are new.

    A window that counted nothing and met only ordinary lines (counted already, never started, opted out)
    is not logged: an idle tick re-reading the late window would otherwise add that same line every
    ten minutes, and read and rewrite the whole log to do it."""
    report = intake.report
    kinds = {reason: n for reason, n in report.counts.items() if reason != "already_counted"}
    fresh = _fresh_lines(engine, tx, report)
    if not kinds or not intake.jobs and set(kinds) <= ORDINARY:
        return fresh
    counts = ", ".join("{} {}".format(n, reason) for reason, n in sorted(report.counts.items()))
    lines = ["{} window {}: {}".format(iso_utc(engine.clock()), label, counts)]
    new_marks = set().union(*fresh.values())
    lines += ["    " + example for example, mark in zip(report.examples, report.example_marks)
              if mark is None or mark in new_marks]
    log = (read_bytes(engine.paths.log) or b"") + ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    if len(log) > PROBLEM_LOG_LIMIT:  # keep the newest half, from a line start
        tail = log[-PROBLEM_LOG_LIMIT // 2:]
        log = tail[tail.find(b"\n") + 1:]
    tx.write(engine.paths.log, log)
    return fresh


def _fresh_lines(engine, tx, report):
    """{reason: fingerprints} of this window's unreadable lines not reported in the last REPORTED_KEEP_SEC;
    the record of reported ones (state/reported_lines.json) is staged in `tx`."""
    if not report.fingerprints:
        return {}
    now = int(engine.clock())
    stored = engine.data.json(engine.paths.reported, {})
    keep = max(REPORTED_KEEP_SEC, 3 * engine.s.late_window_sec)
    known = {mark: when for mark, when in stored.items() if isinstance(when, int) and now - when < keep}
    fresh = {reason: {mark for mark in marks if "%08x" % mark not in known}
             for reason, marks in report.fingerprints.items()}
    known.update(("%08x" % mark, now) for marks in fresh.values() for mark in marks)
    if known != stored:   # the late window re-reads the same bad lines every tick: nothing to write then
        tx.write(engine.paths.reported, (json.dumps(known, sort_keys=True) + "\n").encode())
    return fresh


def _report(engine, intake, label, committed, seconds, fresh):
    """Tally a window's final commit (`committed` new jobs; earlier pieces are tallied already) and
    say what the whole window counted; warn only of the `fresh` unreadable lines (never reported before)."""
    totals, cluster = engine.totals, engine.s.cluster
    totals["new"] += committed
    totals["windows"] += 1
    report = intake.report
    problems = report.get("malformed") + report.get("orphan_step") + report.get("cut_off")
    totals["problems"] += sum(fresh.values())
    new_jobs = intake.jobs
    if engine.verbose or engine.interactive:
        rate = " ({:,.0f} jobs/s)".format(new_jobs / seconds) if seconds > 0 and new_jobs else ""
        engine.say("{}: {}: {:,} new job(s){}, {:,} already counted{}".format(
            cluster, label, new_jobs, rate, report.get("already_counted"),
            ", {} problem line(s)".format(problems) if problems else ""))
    if sum(fresh.values()):
        engine.warn("{}: {}: {} malformed line(s) and {} orphan step line(s) skipped; details in {}".format(
            cluster, label, fresh.get("malformed", 0) + fresh.get("cut_off", 0), fresh.get("orphan_step", 0),
            engine.paths.log))

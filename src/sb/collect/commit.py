"""An Intake's batch → one Transaction: daily and monthly rollups, user totals, seen identities, problem log, cursor."""
from sb.collect import cursor as cursor_file
from sb.collect.purge import stage_purged
from sb.store.counters import add_into, zero
from sb.store.files import Transaction, read_bytes
from sb.store.rollups import daily_json, merge_days, month_totals, monthly_json, remove_user, user_json
from sb.timeutil import DAY, iso_utc, month_of_epoch

PROBLEM_LOG_LIMIT = 1 << 20


def commit(engine, intake, label, seconds, replace=None, with_cursor=True, piece=False):
    """One transaction: daily + monthly rollups, user totals, seen identities, problem log, cursor.

    `replace=(user, start, end)`: the batch holds a full recount of that user's jobs ending in
    [start, end], which replaces what is stored for them on those days. `piece`: a part of a window
    (no problem log, no cursor, no report line).
    """
    paths, now = engine.paths, engine.clock()
    batch, tx = intake.batch, Transaction(paths)
    deltas = batch.user_totals()
    months = set(batch.months)
    if replace:
        months.add(month_of_epoch(replace[1]))
    for month in sorted(months):
        daily = engine.data.daily(month)
        if replace and month == month_of_epoch(replace[1]):
            removed = remove_user(daily, month, replace[0], replace[1] // DAY, replace[2] // DAY)
            deltas[replace[0]] = add_into(deltas.get(replace[0], zero()), [-v for v in removed])
        merge_days(daily, batch.months.get(month, {}))
        tx.write(paths.daily(month), daily_json(month, daily))
        tx.write(paths.monthly(month), monthly_json(month, month_totals(daily), now))
    for user, delta in sorted(deltas.items()):
        counters = add_into(engine.data.user(user), delta)
        if counters[0]:
            tx.write(paths.user(user), user_json(user, engine.s.cluster, counters, now))
        else:
            tx.delete(paths.user(user))
    for month, seen in sorted(intake.seen.items()):   # one file per Submit month the batch touched
        if seen.added:
            tx.write_with(paths.seen(month), seen.write)
    if replace:
        stage_purged(engine, tx, {replace[0]: set()}, done=month_of_epoch(replace[1]))
    if batch.jobs or replace:
        tx.delete(paths.boards_stamp)  # the boards are out of date from this commit on
    if piece:
        tx.commit()
        engine.totals["new"] += batch.jobs
        return
    _stage_problems(engine, tx, intake.report, label)
    if with_cursor:
        engine.cursor["last_success"] = int(now)
        tx.write(paths.cursor, cursor_file.to_json(engine.cursor))
    tx.commit()
    intake.close()
    _report(engine, intake, label, batch.jobs, seconds)


def _stage_problems(engine, tx, report, label):
    """Append this window's unreadable lines to state/problems.log, inside the transaction."""
    if not report.get("malformed") + report.get("orphan_step"):
        return
    counts = ", ".join("{} {}".format(n, reason) for reason, n in sorted(report.counts.items()))
    lines = ["{} window {}: {}".format(iso_utc(engine.clock()), label, counts)]
    lines += ["    " + example for example in report.examples]
    log = (read_bytes(engine.paths.log) or b"") + ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    if len(log) > PROBLEM_LOG_LIMIT:  # keep the newest half, from a line start
        tail = log[-PROBLEM_LOG_LIMIT // 2:]
        log = tail[tail.find(b"\n") + 1:]
    tx.write(engine.paths.log, log)


def _report(engine, intake, label, committed, seconds):
    """Tally a window's final commit (`committed` new jobs; earlier pieces are tallied already) and
    say what the whole window counted."""
    totals, cluster = engine.totals, engine.s.cluster
    totals["new"] += committed
    totals["windows"] += 1
    report = intake.report
    problems = report.get("malformed") + report.get("orphan_step")
    totals["problems"] += problems
    new_jobs = intake.jobs
    if engine.verbose or engine.interactive:
        rate = " ({:,.0f} jobs/s)".format(new_jobs / seconds) if seconds > 0 and new_jobs else ""
        engine.say("{}: {}: {:,} new job(s){}, {:,} already counted{}".format(
            cluster, label, new_jobs, rate, report.get("already_counted"),
            ", {} problem line(s)".format(problems) if problems else ""))
    if problems:
        engine.warn("{}: {}: {} malformed line(s) and {} orphan step line(s) skipped; details in {}".format(
            cluster, label, report.get("malformed"), report.get("orphan_step"), engine.paths.log))

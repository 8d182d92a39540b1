"""Jobs of one sacct window → a Batch of new ones: opt-outs dropped, already counted ones skipped, pieces committed."""
from sb.collect.batch import Batch
from sb.collect.jobs import LineReport
from sb.collect.seen import shard_of
from sb.timeutil import DAY


class Intake:
    """The jobs of one sacct window: opt-outs dropped, already counted ones skipped, the rest tallied.

    With `recount` set to a user, that user's jobs are all counted, seen or not: their numbers for the
    window replace what is stored (used for months whose data was purged at an opt-out).

    Memory stays flat however long the window: once `piece_jobs` new jobs are in hand, they are committed
    (rollups, user totals, seen identities; not the cursor, not the problem log) and the batch starts
    again. A crash after such a piece loses nothing: re-reading the window finds its jobs already counted.
    A recount is never split, because it replaces the user's numbers as a whole.

    Dedupe is by identity alone: `self.seen` holds the seen files (collect.seen, one per Submit month) that
    this window's identities fall in, whatever month the jobs ended in.

    `engine` provides optout(user), load_seen(key) (the seen file holding identity `key`) and
    commit_piece(intake) (collect.engine.Engine).
    """

    def __init__(self, engine, recount=None, piece_jobs=None):
        self.c = engine
        self.recount = recount
        self.piece_jobs = None if recount else piece_jobs
        self.batch = Batch()
        self.seen = {}
        self.report = LineReport()
        self.recounted = set()
        self.committed = 0  # jobs already committed in earlier pieces of this window
        self.user_deltas = {}  # user totals of those pieces, written once by the window's last commit

    @property
    def jobs(self):
        """Jobs counted in this window so far, committed pieces included."""
        return self.committed + self.batch.jobs

    def take(self, jobs):
        optout, report, shards, piece = self.c.optout, self.report, {}, self.piece_jobs
        for job in jobs:
            if optout(job.user):
                report.add("opted_out")
                continue
            key = job.key
            day = (key & 0xFFFFFFFF) // DAY   # the Submit day: one dict look-up picks the seen file
            seen = shards.get(day)
            if seen is None:
                seen = shards[day] = self._seen_shard(key)
            if self.recount == "*" or job.user == self.recount:   # "*": heal.EVERYONE
                if key in self.recounted:
                    report.add("already_counted")
                    continue
                self.recounted.add(key)
                if key not in seen:
                    seen.add(key)
            elif key in seen:
                report.add("already_counted")
                continue
            else:
                seen.add(key)
            self.batch.add(job)
            if piece and self.batch.jobs >= piece:
                self.c.commit_piece(self)
                shards = {}

    def next_piece(self):
        """After a piece is committed: a fresh batch, and the seen files read again."""
        self.committed += self.batch.jobs
        self.batch = Batch()
        self.close()

    def close(self):
        for seen in self.seen.values():
            seen.close()
        self.seen = {}

    def _seen_shard(self, key):
        month = shard_of(key)
        seen = self.seen.get(month)
        if seen is None:
            seen = self.seen[month] = self.c.load_seen(key)
        return seen

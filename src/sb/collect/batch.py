"""Counted jobs → counters in memory: one job's contribution, and a batch of them by month, day and user."""
from sb.store.counters import add_into, zero
from sb.timeutil import DAY, day_month


def job_counters(job):
    """One job's contribution, in COLUMNS order."""
    gpu = job.gpus > 0
    return [1, int(gpu), int(job.failed), job.elapsed, job.cpus * job.elapsed,
            job.elapsed if gpu else 0, job.gpus * job.elapsed, job.req_kib, job.avg_kib, job.max_kib]


class Batch:
    """Counters of newly counted jobs, by month → day → user."""

    def __init__(self):
        self.months = {}
        self.jobs = 0
        self._days = {}  # day number → its {user: counters}, the hot path's shortcut into self.months

    def add(self, job):
        """Add one job: the same sums as add_into(total, job_counters(job)), unrolled (hot path)."""
        day = job.end // DAY
        users = self._days.get(day)
        if users is None:
            users = self._days[day] = self.months.setdefault(day_month(day), {}).setdefault(day, {})
        total = users.get(job.user)
        if total is None:
            total = users[job.user] = zero()
        elapsed, gpus = job.elapsed, job.gpus
        total[0] += 1
        total[3] += elapsed
        total[4] += job.cpus * elapsed
        total[7] += job.req_kib
        total[8] += job.avg_kib
        total[9] += job.max_kib
        if gpus:
            total[1] += 1
            total[5] += elapsed
            total[6] += gpus * elapsed
        if job.failed:
            total[2] += 1
        self.jobs += 1

    def user_totals(self):
        """{user: counters} summed over the whole batch."""
        totals = {}
        for days in self.months.values():
            for users in days.values():
                for user, counters in users.items():
                    add_into(totals.setdefault(user, zero()), counters)
        return totals

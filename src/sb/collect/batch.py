"""Counted jobs → counters in memory: one job's contribution, and a batch of them by month, day and
(user, account, partition)."""
from sb.store.counters import add_into, zero
from sb.timeutil import DAY, day_month


def job_counters(job):
    """One job's contribution, in COLUMNS order (store.counters)."""
    gpu = job.gpus > 0
    elapsed = job.elapsed
    sampled = job.mem_sampled
    busy = job.gpu_busy is not None
    return [1, int(gpu), int(job.failed), elapsed, job.cpus * elapsed,
            elapsed if gpu else 0, job.gpus * elapsed, job.req_bytes, job.avg_bytes, job.max_bytes,
            job.cpu_ms, job.limit, elapsed if job.limit else 0, job.wait,
            int(sampled), job.req_bytes * elapsed if sampled else 0, job.used_bytes * elapsed if sampled else 0,
            int(busy), job.gpus * elapsed if busy else 0, job.gpu_busy * elapsed if busy else 0]


class Batch:
    """Counters of newly counted jobs, by month → day → (user, account, partition)."""

    def __init__(self):
        self.months = {}
        self.jobs = 0
        self._days = {}  # day number → its {key: counters}, the hot path's shortcut into self.months
        self._keys = {}  # (user, account, partition) tuples made once each, shared by every day

    def add(self, job):
        day = job.end // DAY
        rows = self._days.get(day)
        if rows is None:
            rows = self._days[day] = self.months.setdefault(day_month(day), {}).setdefault(day, {})
        key = (job.user, job.account, job.partition)
        total = rows.get(key)
        if total is None:
            total = rows[self._keys.setdefault(key, key)] = zero()
        # the same sums as add_into(total, job_counters(job)), unrolled: this runs once per job
        elapsed, gpus = job.elapsed, job.gpus
        total[0] += 1
        total[3] += elapsed
        total[4] += job.cpus * elapsed
        total[7] += job.req_bytes
        total[8] += job.avg_bytes
        total[9] += job.max_bytes
        total[10] += job.cpu_ms
        total[13] += job.wait
        if job.failed:
            total[2] += 1
        if job.limit:
            total[11] += job.limit
            total[12] += elapsed
        if job.mem_sampled:
            total[14] += 1
            total[15] += job.req_bytes * elapsed
            total[16] += job.used_bytes * elapsed
        if gpus:
            total[1] += 1
            total[5] += elapsed
            total[6] += gpus * elapsed
            if job.gpu_busy is not None:
                total[17] += 1
                total[18] += gpus * elapsed
                total[19] += job.gpu_busy * elapsed
        self.jobs += 1

    def user_totals(self):
        """{user: {(account, partition): counters}} summed over the whole batch."""
        totals = {}
        for days in self.months.values():
            for rows in days.values():
                for (user, account, partition), counters in rows.items():
                    add_into(totals.setdefault(user, {}).setdefault((account, partition), zero()), counters)
        return totals

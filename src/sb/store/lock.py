"""The cluster lock: flock on state/lock.pid, so one collector at a time writes a cluster's subtree."""
import errno
import fcntl
import os
import socket
import time

from sb.store.files import check_dir, open_regular


class Busy(Exception):
    """Another process holds the cluster's lock; the message names it."""


class ClusterLock:
    """flock on state/lock.pid, with the holder's host, pid and start time written inside. With `wait`,
    a busy lock is tried again (every `poll_sec`) for that many seconds before Busy is raised."""

    def __init__(self, paths, wait=0.0, poll_sec=0.5, clock=time.monotonic, sleep=time.sleep, on_wait=None):
        self.paths = paths
        self.fd = None
        self.wait = wait
        self.poll_sec = poll_sec
        self.clock = clock
        self.sleep = sleep
        self.on_wait = on_wait  # called once with the holder when a wait begins

    def __enter__(self):
        check_dir(os.path.dirname(self.paths.lock))
        fd = open_regular(self.paths.lock, os.O_RDWR | os.O_CREAT)  # a link planted there is refused, not truncated
        deadline = self.clock() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                left = deadline - self.clock()
                holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "unknown holder"
                if left <= 0:
                    os.close(fd)
                    raise Busy(holder)
                if self.on_wait:
                    self.on_wait(holder)
                    self.on_wait = None
                self.sleep(min(self.poll_sec, left))
        holder = "host={} pid={} since={}\n".format(
            socket.gethostname(), os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, holder)  # overwrite, then trim: a second poller never reads an empty holder line
        os.ftruncate(fd, len(holder))
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock; the holder line stays as a harmless record
        self.fd = None

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
    """flock on state/lock.pid, with the holder's host, pid and start time written inside."""

    def __init__(self, paths):
        self.paths = paths
        self.fd = None

    def __enter__(self):
        check_dir(os.path.dirname(self.paths.lock))
        fd = open_regular(self.paths.lock, os.O_RDWR | os.O_CREAT)  # a link planted there is refused, not truncated
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as err:
            holder = os.read(fd, 300).decode("utf-8", "replace").strip() or "unknown holder"
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise Busy(holder)
            raise
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

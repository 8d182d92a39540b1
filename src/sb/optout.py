"""Opt-out: users who asked to be left out (config/optout.txt, or ~/.slurm_scoreboard_optout in their home)."""
import os
import pwd
import stat

from sb.names import BadField, normalize_user

HOME_FLAG = ".slurm_scoreboard_optout"
MAX_OPTOUT_BYTES = 1 << 20


class OptOutUnreadable(ValueError):
    """optout.txt exists but is not a regular file of at most MAX_OPTOUT_BYTES; the message says so."""


def read_optout_file(path):
    """Normalized usernames of an optout.txt: one a line, '#' starts a comment. A FIFO, a device
    (/dev/zero) or a file over 1 MiB raises OptOutUnreadable: ignoring it could show opted-out names."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang poll or the board
    except FileNotFoundError:
        return set()
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OptOutUnreadable("{}: cannot read (not a regular file); make it a plain text file of "
                                   "usernames".format(path))
        data = handle.read(MAX_OPTOUT_BYTES + 1)
    if len(data) > MAX_OPTOUT_BYTES:
        raise OptOutUnreadable("{}: cannot read (larger than 1 MiB); it should hold one username a line".format(path))
    names = set()
    for line in data.decode("utf-8", "replace").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            try:
                names.add(normalize_user(name))
            except BadField:
                pass  # a name no job can carry opts out nobody
    return names


def home_of(user):
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return None


class OptOut:
    """Answers "is this user opted out?", asking each home directory at most once per run."""

    def __init__(self, root, check_homes=True, home_lookup=home_of):
        self.listed = read_optout_file(os.path.join(root, "config", "optout.txt"))
        self.check_homes = check_homes
        self.home_lookup = home_lookup
        self._cache = {}

    def cached(self, user):
        """True only if this run already found the user's home opt-out file."""
        return self._cache.get(user) is True

    def found(self):
        """The users whose home opt-out file this run has found."""
        return {user for user, answer in self._cache.items() if answer}

    def __call__(self, user):
        if user in self.listed:
            return True
        if not self.check_homes:
            return False
        answer = self._cache.get(user)
        if answer is None:
            home = self.home_lookup(user)
            answer = self._cache[user] = bool(home) and os.path.exists(os.path.join(home, HOME_FLAG))
        return answer

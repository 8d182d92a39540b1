"""Opt-out: users who asked to be left out (config/optout.txt, or ~/.slurm_scoreboard_optout in their home)."""
import os
import pwd

from sb.names import BadField, normalize_user

HOME_FLAG = ".slurm_scoreboard_optout"


def read_optout_file(path):
    """Normalized usernames of an optout.txt: one a line, '#' starts a comment."""
    names = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name = line.split("#", 1)[0].strip()
                if name:
                    try:
                        names.add(normalize_user(name))
                    except BadField:
                        pass  # a name no job can carry opts out nobody
    except FileNotFoundError:
        pass
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

"""The shared root's layout: where every file of a cluster's subtree lives (spec §7), named in one place."""
import os

# window name → file name under agg/leaderboards/, and the days it spans (None: all time).
WINDOWS = (("alltime", "alltime", None), ("30d", "rolling-30d", 30), ("365d", "rolling-365d", 365))
JOURNAL = "journal.json"
MOVES = "moves-7d"          # beside the leaderboards
MOVE_DAYS = 7               # rank movement compares each board with itself this many days earlier


class ClusterPaths:
    """Every path of one cluster's subtree (spec §7), relative names kept in one place."""

    def __init__(self, root, cluster):
        self.root = root
        self.cluster = cluster
        self.base = os.path.join(root, "clusters", cluster)
        self.state = os.path.join(self.base, "state")
        self.seen_dir = os.path.join(self.state, "seen")
        self.agg = os.path.join(self.base, "agg")
        self.users_dir = os.path.join(self.agg, "users")
        self.monthly_dir = os.path.join(self.agg, "rollups", "monthly")
        self.daily_dir = os.path.join(self.agg, "rollups", "daily")
        self.boards_dir = os.path.join(self.agg, "leaderboards")
        self.cursor = os.path.join(self.state, "poll_cursor.json")
        self.lock = os.path.join(self.state, "lock.pid")
        self.journal = os.path.join(self.state, JOURNAL)
        self.pacing = os.path.join(self.state, "pacing.json")
        self.log = os.path.join(self.state, "problems.log")
        self.purged = os.path.join(self.state, "purged.json")
        self.known_users = os.path.join(self.state, "known_users.json")
        self.visibility = os.path.join(self.state, "visibility.json")
        self.boards_stamp = os.path.join(self.state, "boards.json")
        self.manifest = os.path.join(self.state, "manifest.json")
        self.reported = os.path.join(self.state, "reported_lines.json")
        self.live = os.path.join(self.base, "live.json")

    def dirs(self):
        return (self.state, self.seen_dir, self.users_dir, self.monthly_dir, self.daily_dir, self.boards_dir)

    def make_dirs(self):
        for path in self.dirs() + (os.path.join(self.root, "config"), os.path.join(self.root, "ui")):
            os.makedirs(path, exist_ok=True)

    def seen(self, month):
        """Dedupe: the identities of the jobs submitted in `month` (collect.seen, format 3)."""
        return os.path.join(self.seen_dir, "submit-" + month + ".seen")

    def legacy_seen(self, month):
        """Dedupe as releases before format 3 kept it, by End month; collect.seen.upgrade() replaces these."""
        return os.path.join(self.seen_dir, month + ".bloom")

    def monthly(self, month):
        return os.path.join(self.monthly_dir, month + ".json")

    def daily(self, month):
        return os.path.join(self.daily_dir, month + ".json")

    def user(self, name):
        return os.path.join(self.users_dir, name + ".json")

    def board(self, window):
        return os.path.join(self.boards_dir, window + ".json")

    @property
    def moves(self):
        """What each window gained and lost in its last 7 days (rank movement): store.leaderboards.moves_json."""
        return os.path.join(self.boards_dir, MOVES + ".json")

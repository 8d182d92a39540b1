"""The collector's one error for a problem a person must fix; its message says what to do."""


class CollectorError(Exception):
    """A problem the user must fix (bad state file, sacct unusable); the message says what to do."""

"""Time arithmetic in UTC: epochs, days, months and the sacct time arguments built from them."""
import calendar
import time
from datetime import datetime, timezone

DAY = 86400


def month_of_epoch(epoch):
    """'YYYY-MM' of a UTC epoch."""
    return time.strftime("%Y-%m", time.gmtime(epoch))


def month_start(month):
    """Epoch of the first second of 'YYYY-MM'."""
    year, mon = parse_month(month)
    return calendar.timegm((year, mon, 1, 0, 0, 0))


def next_month(month):
    year, mon = parse_month(month)
    return "{:04d}-{:02d}".format(year + mon // 12, mon % 12 + 1)


def month_end(month):
    """Epoch of the last second of 'YYYY-MM' (sacct's -E is inclusive)."""
    return month_start(next_month(month)) - 1


def parse_month(text):
    """'YYYY-MM' or 'YYYY-MM-DD' → (year, month); ValueError otherwise."""
    parts = str(text).split("-")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError("expected YYYY-MM or YYYY-MM-DD, got {!r}".format(text))
    year, mon = int(parts[0]), int(parts[1])
    if not (1970 <= year <= 9999 and 1 <= mon <= 12):
        raise ValueError("expected YYYY-MM or YYYY-MM-DD, got {!r}".format(text))
    return year, mon


def normalize_month(text):
    """'2024-3' or '2024-03-15' → '2024-03'."""
    return "{:04d}-{:02d}".format(*parse_month(text))


def day_month(day):
    """'YYYY-MM' of a UTC day number."""
    return month_of_epoch(day * DAY)


def day_label(day):
    """'DD' of a UTC day number, the key used in daily rollups."""
    return time.strftime("%d", time.gmtime(day * DAY))


def sacct_time(epoch):
    """Epoch → 'YYYY-MM-DDTHH:MM:SS', read by sacct as UTC because we run it with TZ=UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


def iso_utc(epoch):
    """Epoch → '2025-08-22T15:00:00Z' for `asof` stamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_when(text):
    """An epoch, 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS[Z]' (UTC) → epoch seconds."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        return int(parsed.timestamp())
    raise ValueError("expected an epoch, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, got {!r}".format(text))


def age_words(seconds):
    """A duration the way the board and the report say how old something is: '45 s', '12 min', '3 h', '2 d'
    (whole units, rounded down)."""
    seconds = max(int(seconds), 0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return "{} {}".format(seconds // size, unit)
    return "{} s".format(seconds)

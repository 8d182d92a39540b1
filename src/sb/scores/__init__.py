"""The scores: the shared files → ranked rows, skills, levels and XP: everything a board, `whois`, CSV or
the HTML report needs to read, and nothing about terminals or pages.

`board` reads the leaderboard files (mtime-cached), sums clusters for ALL, filters and ranks; `skills`
turns metrics into OSRS skills (XP per unit, the level curve, humanized values, ui/theme.json);
`history` reads monthly rollups for charts and pages; `whois` is one name's rank N of M on every board;
`player` is one name's page (standings, history, bests); `movement` ranks each board as it stood 7 days
ago; `live` reads the squeue snapshots (what runs now).
It may import `sb.store` and the top-level helpers; never `sb.collect`, `sb.ui` or `sb.report`.
"""

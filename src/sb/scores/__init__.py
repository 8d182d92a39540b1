"""The scores: the shared files → ranked rows, skills, levels and XP: everything a board, `whois`, CSV or
the HTML report needs to read, and nothing about terminals or pages.

`board` reads the leaderboard files (mtime-cached), sums clusters for ALL, filters and ranks; `skills`
turns metrics into OSRS skills (XP per unit, the level curve, humanized values, ui/theme.json).
It may import `sb.store` and the top-level helpers; never `sb.collect`, `sb.ui` or `sb.report`.
"""

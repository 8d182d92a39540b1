"""The shared directory: where each file lives (`layout`), how bytes reach disk safely (`files`: atomic
writes and journaled transactions), the cluster lock (`lock`), the stored formats (`counters`, `rollups`,
`leaderboards`) and reading them back, checked (`data`).

Both the collector (writing) and the scores (reading) stand on it, so it imports nothing of theirs: only
the top-level helpers (names, timeutil).
"""

"""The collector: sacct output → deduped job records → exact rollups, user totals and leaderboards on disk.

It owns everything that talks to SLURM (sacct, sacctmgr, squeue: `sacct.py`, `live.py`) and every stage
from a sacct line to a committed file: field parsing (`parse`), folding steps into jobs (`jobs`), dedupe
(`seen`), counters in memory (`batch`), the window → Intake → journaled commit engine (`engine`, `intake`,
`commit`, `cursor`, `pacing`), opt-out purges (`purge`), the leaderboard files (`boards`), and one module
per command (`poll_cmd`, `backfill_cmd`, `rebuild_cmd`, `replay_cmd`, `discover_cmd`).

It may import `sb.store` and the top-level helpers (config, names, optout, timeutil, compat); never
`sb.scores`, `sb.ui` or `sb.report` (tests/test_architecture.py checks).
"""

"""The HTML report: one self-contained page (hiscores, charts, player pages) built from the same shared files
the board reads, with its CSS, JavaScript, data and the vendored uPlot inline, and no network at all.

One module per stage: `data` (Scores and history → the page's data dict), `page` (data → HTML, with the
default board rendered server-side so the page works without JavaScript) and `command` (the `report`
subcommand: read, render, write DIR/index.html atomically). `assets/` holds the page's CSS and JavaScript.
It may import `sb.scores` and the top-level helpers (config, names, timeutil, compat); never `sb.collect`,
`sb.ui` nor `sb.store` directly (tests/test_architecture.py checks).
"""

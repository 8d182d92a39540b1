"""The terminal front ends of the scoreboard: `view` (rows + view state → the lines of one frame, pure),
`page` (a player's page → its lines, pure), `tui` (the board's state and keys), `screen` (curses and the
one-shot ANSI table), `textual_board` (the optional Textual front end) and `command` (the `tui`
subcommand: which of them to run).

It may import `sb.scores` and the top-level helpers; never `sb.collect`, nor `sb.store` directly.
"""

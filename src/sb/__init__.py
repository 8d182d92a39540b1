"""SLURM Scoreboard: per-user SLURM usage high scores, collected without admin rights."""

__version__ = "0.1.0"

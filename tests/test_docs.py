"""Docs cannot drift: every subcommand has help and is in the README, every config key is documented,
and CI runs the README's own test command."""
import io
import os
import re

import pytest

from conftest import REPO
from sb import cli, config

README = open(os.path.join(REPO, "README.md")).read()


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_subcommand_has_help_and_is_in_the_readme(command):
    out = io.StringIO()
    with pytest.raises(SystemExit) as done:
        import contextlib
        with contextlib.redirect_stdout(out):
            cli.main([command, "--help"])
    assert done.value.code == 0 and "usage: slurm-sb " + command in out.getvalue()
    assert "`{}".format(command) in README


@pytest.mark.parametrize("key", sorted(config.KEYS))
def test_every_config_key_is_in_the_readme_table(key):
    assert re.search(r"^\| `{}` \|".format(key), README, re.M)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    build_and_demo, tests = blocks[0], blocks[1]
    assert "build.py" in build_and_demo and "slurm-sb.pyz demo" in build_and_demo
    assert "pytest" in tests
    assert tests in open(os.path.join(REPO, ".ci", "run")).read()


def test_no_subcommand_prints_the_help():
    out = io.StringIO()
    assert cli.main([], out=out) == 0 and "poll" in out.getvalue() and "doctor" in out.getvalue()


def test_every_subcommand_in_the_table_has_a_runner():
    assert list(cli.SUBCOMMANDS) == list(cli.COMMANDS)

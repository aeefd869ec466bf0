"""The `townsquare` command's entry point: a Ctrl-C while the command line is still
being imported (numba, pyarrow and duckdb take a moment) ends in one line, like every
other interruption, instead of a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing was written\n")
        sys.exit(130)
    cli_main()

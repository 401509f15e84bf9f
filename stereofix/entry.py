"""The `stereofix` console script: the CLI imported under a Ctrl-C guard.

Importing the CLI (typer, rich, the media layer) takes about 0.2 s, and a Ctrl-C inside it used to
print a traceback; `cli.main` guards everything after. This module imports nothing until it is run.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from stereofix.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("stereofix: interrupted\n")
        raise SystemExit(130) from None
    cli_main()

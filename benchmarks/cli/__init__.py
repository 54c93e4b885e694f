"""The `bench` command line. This module only registers commands; each lives in its own module.

One error boundary (`main`): user errors become one line on stderr and exit code 2; set
POLYGLUE_DEBUG=1 to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from polyglue.cli import cmd_cache, cmd_cards, cmd_compare, cmd_contrib, cmd_demo, cmd_report, cmd_run, cmd_submit
from polyglue.errors import UserError

app = typer.Typer(
    name="bench",
    help="polyglue: evaluate text encoders and speech upstreams on language-specific benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for module in (cmd_cards, cmd_contrib, cmd_run, cmd_report, cmd_submit, cmd_compare, cmd_demo, cmd_cache):
    module.register(app)


INVOCATION: list[str] = []
"""The command line of the current invocation (`bench ...`), recorded in the run file."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bench` console script; returns the exit code."""
    INVOCATION[:] = ["bench", *(sys.argv[1:] if argv is None else [str(a) for a in argv])]
    try:
        code = app(args=argv, prog_name="bench", standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("interrupted: finished units are saved; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a readable line
        if os.environ.get("POLYGLUE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (set POLYGLUE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

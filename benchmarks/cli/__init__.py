"""The `bench` command line. This module only registers commands; each lives in its own module.

One error boundary (`main`): every user error (a bad card, a bad flag, an unknown option or
command, a missing required option, a value of the wrong type) becomes one line on stderr and
exit code 2; Ctrl-C becomes one "interrupted" line and exit code 130; set POLYGLUE_DEBUG=1 to
see tracebacks of unexpected errors (exit code 1).

Typer ships its own copy of click (`typer._click`), whose exceptions are not the installed
`click` package's: both families are caught here, by class, so neither falls through to the
"internal error" branch.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import typer
import typer.exceptions as typer_exc
from typer._click import exceptions as typer_click_exc

from polyglue.cli import cmd_cache, cmd_cards, cmd_compare, cmd_contrib, cmd_demo, cmd_report, cmd_run, cmd_submit
from polyglue.errors import UserError

try:  # the installed click, in case a command or a plugin raises its exceptions
    import click.exceptions as click_exc
except ImportError:  # pragma: no cover - typer no longer needs click
    click_exc = None  # type: ignore[assignment]

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

INTERRUPTED = "interrupted; rerun the same command to resume (finished units are saved)"


def _families(name: str) -> tuple[type[BaseException], ...]:
    """The class `name` from typer, typer's click and the installed click (those that exist)."""
    found: list[type[BaseException]] = []
    for module in (typer_exc, typer_click_exc, click_exc):
        cls = getattr(module, name, None) if module is not None else None
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


EXIT = _families("Exit")
ABORT = _families("Abort")
INTERRUPTS: tuple[type[BaseException], ...] = (KeyboardInterrupt, *ABORT)
NO_ARGS_HELP = _families("NoArgsIsHelpError")
USAGE = _families("UsageError")
CLICK = _families("ClickException")


def one_line(text: object) -> str:
    """Collapse a multi-line message to one line (terminal control characters dropped)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(cleaned.split())


def _usage_line(exc) -> str:
    message = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return f"{ctx.command_path}: {message} (see `{ctx.command_path} --help`)"
    return message


INVOCATION: list[str] = []
"""The command line of the current invocation (`bench ...`), recorded in the run file."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bench` console script; returns the exit code."""
    INVOCATION[:] = ["bench", *(sys.argv[1:] if argv is None else [str(a) for a in argv])]
    with _sigint_seen() as seen:
        code = _invoke(argv)
    if code == -130:
        return 130
    if seen and code not in (0, None):
        # typer turns Ctrl-C into a silent exit code 130; say what happened, once.
        print(INTERRUPTED, file=sys.stderr)
        return 130
    return code


@contextlib.contextmanager
def _sigint_seen():
    """Note whether SIGINT arrived (typer swallows the KeyboardInterrupt); a no-op off the main thread or when SIGINT is ignored."""
    seen: list[bool] = []

    def handler(signum, frame):
        seen.append(True)
        raise KeyboardInterrupt

    installed = False
    try:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous = signal.signal(signal.SIGINT, handler)
            installed = True
    except ValueError:  # pragma: no cover - not the main interpreter
        pass
    try:
        yield seen
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)


def _invoke(argv: list[str] | None) -> int:
    try:
        code = app(args=argv, prog_name="bench", standalone_mode=False)
    except UserError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except EXIT as exc:
        return getattr(exc, "exit_code", 1)
    except NO_ARGS_HELP as exc:
        print(exc.format_message())  # type: ignore[attr-defined]
        return 0
    except USAGE as exc:
        print(f"error: {_usage_line(exc)}", file=sys.stderr)
        return 2
    except CLICK as exc:
        print(f"error: {one_line(exc.format_message())}", file=sys.stderr)  # type: ignore[attr-defined]
        return 2
    except INTERRUPTS:
        print(INTERRUPTED, file=sys.stderr)
        return -130  # already said
    except RecursionError:
        if os.environ.get("POLYGLUE_DEBUG"):
            raise
        print("internal error: RecursionError: input nested too deeply (set POLYGLUE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a readable line
        if os.environ.get("POLYGLUE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {one_line(exc)} (set POLYGLUE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What every command line shares: one-line errors and exit codes.

Exit codes: 0 success, 1 the run failed, 2 bad usage or bad input, 3 a threshold the
user set was broken, 130/143 stopped by SIGINT/SIGTERM. This is the only layer that
turns exceptions into messages; no traceback reaches a user for a foreseeable error.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from memory_analysis.errors import MemoryAnalysisError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_THRESHOLD = 3


def exit_code_for_signal(signum: int | None) -> int:
    """Shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum) if signum else EXIT_FAILED


def exit_code_for_report(report: dict[str, Any], signum: int | None) -> int:
    """0 for a complete run, 1 for one that ended early, 130/143 for one stopped by a
    signal (``end_reason`` "interrupted")."""
    if report.get("end_reason") == "interrupted":
        return exit_code_for_signal(signum)
    return EXIT_OK if report.get("complete") else EXIT_FAILED


def fail(prog: str, message: str, code: int) -> int:
    click.echo(f"{prog}: error: {message}", err=True)
    return code


def run_command(command: click.Command, prog: str, args: Sequence[str] | None = None) -> int:
    """Run a click command; map every foreseeable failure to one line and an exit code.

    Click's own usage errors print several lines (usage, hint, error); a user of these
    tools gets the one that matters.
    """
    try:
        result = command.main(args=list(args) if args is not None else None,
                              prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        return fail(prog, "aborted", exit_code_for_signal(signal.SIGINT))
    except click.ClickException as exc:
        return fail(prog, exc.format_message(), EXIT_USAGE)
    except MemoryAnalysisError as exc:
        return fail(prog, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail(prog, "interrupted", exit_code_for_signal(signal.SIGINT))
    return int(result or 0)


def invoked_as(prog: str) -> str:
    """The name the user typed: ``memory-analysis`` when run as an installed command,
    else ``prog`` (the top-level file's name, also for ``python -m``)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name.endswith(".py") or name.startswith("-"):
        return prog
    return name


def entry_point(command: click.Command, prog: str) -> Callable[[], None]:
    """A ``main()`` for console scripts and the top-level files."""

    def main() -> None:
        sys.exit(run_command(command, invoked_as(prog)))

    return main


def with_request_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--endpoints and --header, the same for the load tester and the runner."""
    func = click.option("--header", "-H", "headers", multiple=True, metavar="'NAME: VALUE'",
                        help="Send this header with every request; {env:NAME} takes a value "
                             "from the environment (for tokens). Repeatable.")(func)
    return click.option("--endpoints", default=None, metavar="NAME|CATEGORY,...",
                        help="Only these endpoints or categories of the scenario.")(func)


def with_agent_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--agent-dir, --tracemalloc and --components, the same for the monitor and the
    runner: what to read from, and ask of, the agent inside a Python service."""
    func = click.option("--components", default=None, metavar="FILE",
                        help="Component map, YAML or JSON: component name -> module "
                             "prefixes. Default: the service's own packages, each installed "
                             "distribution, and the Python runtime.")(func)
    func = click.option("--tracemalloc", is_flag=True,
                        help="Trace allocations inside the service, for memory by "
                             "component. Slows the service; tracing started in a running "
                             "service stops when the run ends.")(func)
    return click.option("--agent-dir", default=None, metavar="DIR",
                        help="With --pid: the directory the agent inside the Python service "
                             "reports to (its MEMORY_ANALYSIS_AGENT).")(func)

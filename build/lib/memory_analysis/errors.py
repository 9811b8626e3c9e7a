"""The project's exceptions. Library code raises these; only ``cli/`` maps them to
messages and exit codes (see ``memory_analysis.cli.common``)."""


class MemoryAnalysisError(Exception):
    """Base class: a foreseeable failure with a message fit for a user."""

    exit_code = 1


class BadInput(MemoryAnalysisError):
    """Bad usage or bad input (exit code 2): wrong option value, missing PID, bad file."""

    exit_code = 2


class RunFailed(MemoryAnalysisError):
    """The run could not do its job (exit code 1): service unreachable, target died."""

    exit_code = 1


class ThresholdBroken(MemoryAnalysisError):
    """A threshold the user set was broken (exit code 3)."""

    exit_code = 3

"""Loads the memory analysis agent into any Python process started with this directory
first on PYTHONPATH and MEMORY_ANALYSIS_AGENT set, then runs the ``sitecustomize`` that
would have run without it (a virtual environment's or a distribution's), if any.

The agent is loaded by its file path, not imported as ``memory_analysis``: the service's
environment need not have the suite installed. Nothing here may stop the service.
"""

import os
import sys


def _start_agent():
    if not os.environ.get("MEMORY_ANALYSIS_AGENT"):
        return
    try:
        import importlib.util
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(os.path.dirname(here), "core.py")
        spec = importlib.util.spec_from_file_location("_memory_analysis_agent", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        module.start_from_environment()
    except Exception as exc:  # the service must run whatever happens here
        sys.stderr.write("memory-analysis agent: not started (%s)\n" % exc)


def _chain():
    """Import the next ``sitecustomize`` on sys.path, as if this one were not there."""
    here = os.path.dirname(os.path.abspath(__file__))
    this = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import sitecustomize  # noqa: F401
    except ImportError as exc:
        if exc.name != "sitecustomize":  # there is one, and it failed: as site says
            sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                             "%s: %s\n" % (type(exc).__name__, exc))
    except Exception as exc:
        sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                         "%s: %s\n" % (type(exc).__name__, exc))
    finally:
        sys.path[:] = saved
        if this is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = this


_start_agent()
_chain()

"""The in-process agent: loaded into a Python service with no change to its code (see
``inject/sitecustomize.py``), it reports the interpreter's own figures (garbage
collection, objects by type, traced memory by component) for the monitor to read.

``core.py`` runs inside the service's interpreter and virtual environment, so it uses
the standard library only and Python 3.8 syntax; ``control.py`` is the suite's side.
"""

import os

from memory_analysis.agent.core import (  # noqa: F401 (the names the suite uses)
    CONTROL_FILE,
    ENV_COMPONENTS,
    ENV_DIR,
    ENV_INTERVAL,
    ENV_TRACEMALLOC,
)

# The directory to put first on the service's PYTHONPATH.
INJECT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inject")

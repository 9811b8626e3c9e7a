"""The environment the suite's own child processes start with (the monitor, the load
tester and its workers, the demo service), whatever the directory and however the suite
was installed.

They are started as modules of the package with the running interpreter
(``sys.executable -m memory_analysis...``), never by a file path next to the source: an
installed package has no such file. From a plain clone the package is importable only
from the clone's directory, so the directory holding the package goes first on
``PYTHONPATH``; for an installed package that is site-packages, already on the path.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the package importable."""
    env = dict(os.environ if base is None else base)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + existing if existing else "")
    return env

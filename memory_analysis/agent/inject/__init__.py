"""Not imported: this directory goes first on a service's PYTHONPATH so that Python runs
its ``sitecustomize.py`` at start-up (a package only so that it is installed)."""

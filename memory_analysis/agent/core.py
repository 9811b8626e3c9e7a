"""The agent inside a Python service: every interval, a daemon thread writes this
process's figures to ``<dir>/<pid>.json`` (atomically) for the monitor to read.

What it reports, and what each costs the service:
- garbage collection: ``gc.get_count()`` and ``gc.get_stats()`` (free), time spent in
  collections and the longest pause, from ``gc.callbacks`` (two clock reads per
  collection);
- objects by type, top ``TOP_TYPES``: walking the tracked objects holds the interpreter
  for a moment, so it is done at most 1 % of the time (``OBJECTS_DUTY``), and only the
  young generations are walked when the heap is so large that the list of objects alone
  would break the agent's memory bound (``OBJECT_LIST_CAP``);
- when asked (``tracemalloc``: the environment or the control file), traced memory now
  and at its peak, tracemalloc's own overhead, and traced memory by component and by
  module. A snapshot is taken at most 2 % of the time, and whenever the control file
  asks for one (the runner does at the end of the baseline and of the cooldown).

It re-arms after ``fork()`` so each worker reports under its own PID. Its errors go to
``<dir>/agent-<pid>.log`` (bounded); an unwritable directory turns it off with one line
on stderr. Standard library only, Python 3.8 syntax: it runs in the service's own
interpreter and virtual environment.
"""

import _thread
import atexit
import gc
import json
import os
import sys
import threading
import time

ENV_DIR = "MEMORY_ANALYSIS_AGENT"
ENV_INTERVAL = "MEMORY_ANALYSIS_AGENT_INTERVAL"
ENV_TRACEMALLOC = "MEMORY_ANALYSIS_AGENT_TRACEMALLOC"
ENV_COMPONENTS = "MEMORY_ANALYSIS_AGENT_COMPONENTS"
ENV_FRAMES = "MEMORY_ANALYSIS_AGENT_FRAMES"
CONTROL_FILE = "control.json"

DEFAULT_INTERVAL_S = 1.0
# Reports are files written by every Python process of the service: not more often.
MIN_INTERVAL_S = 0.25
# How often the control file is looked at (one stat): a requested snapshot waits at most this.
CONTROL_POLL_S = 0.2
TOP_TYPES = 15
TOP_MODULES = 10
TOP_COMPONENTS = 30  # the rest are reported together, as OTHER
# Longest pauses of the last reports, so a reader that misses a report misses no pause.
PAUSE_WINDOWS = 64
# Share of wall time the walks may take: a walk of D seconds is followed by at least
# D / duty seconds without one.
OBJECTS_DUTY = 0.01
OBJECTS_MIN_GAP_S = 5.0
SNAPSHOT_DUTY = 0.02
# Frames kept per traced allocation. One: every further frame made tracemalloc far
# slower on the demo (1,541 requests/s untraced; 140 with one frame, 9 with two, 1.6 with
# eight: bench/RESULTS.md). More frames would see the service's own code above the
# standard library's; MEMORY_ANALYSIS_AGENT_FRAMES raises it for a service that can
# afford it.
TRACE_FRAMES = 1
# While the agent walks objects or groups traces (pure Python work), it keeps the
# interpreter for up to this long instead of handing it back every 5 ms: handing it
# back makes each of the service's I/O calls wait a whole switch interval for it to
# come back (the convoy effect), so a 50 ms walk would slow the service for far longer.
EXCLUSIVE_S = 0.5
# Walking every object lists them first (8 bytes each). Above this many allocated
# blocks, only the young generations are walked, so the list stays within ~4 MB.
OBJECT_LIST_CAP = 500_000
LOG_LINES_MAX = 50
# Longest a fork() waits for the agent's thread to stop (it stops at once unless it is
# in the middle of a snapshot).
FORK_JOIN_S = 1.0
RUNTIME = "Python runtime"
AGENT = "memory analysis agent"
OTHER = "other modules"

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))


def _stdlib_dirs():
    """Where the standard library lives: beside ``os`` (``sysconfig`` would say so too,
    but importing it costs the service a megabyte)."""
    return (os.path.realpath(os.path.dirname(os.__file__)) + os.sep,)


def _installed(path):
    """(directory of installed distributions, path within it), or None."""
    for marker in (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep):
        index = path.find(marker)
        if index >= 0:
            return path[:index + len(marker) - 1], path[index + len(marker):]
    return None


def _distributions_in(site_dir):
    """Top-level import name -> distribution name, for the distributions installed in
    ``site_dir``, from their ``top_level.txt`` or the first parts of their ``RECORD``.

    Read from the files directly: ``importlib.metadata.packages_distributions`` parses
    every distribution's metadata with the email package, which costs the service a
    second and the memory of the modules it imports."""
    names = {}
    try:
        entries = os.listdir(site_dir)
    except OSError:
        return names
    for entry in entries:
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        distribution = entry.rsplit(".", 1)[0].split("-", 1)[0]
        tops = set()
        try:
            with open(os.path.join(site_dir, entry, "top_level.txt")) as handle:
                tops.update(handle.read().split())
        except OSError:
            try:
                with open(os.path.join(site_dir, entry, "RECORD")) as handle:
                    for line in handle:
                        first = line.split(",", 1)[0].split("/", 1)[0]
                        if not first.endswith((".dist-info", ".egg-info", ".pth")):
                            tops.add(first[:-3] if first.endswith(".py") else first)
            except OSError:
                pass
        for top in tops:
            names.setdefault(top, distribution)
    return names


class Components:
    """Which component a source file's allocations belong to.

    A component map (name -> module prefixes) is looked at first; then the standard
    library and the interpreter's own frames are the Python runtime, an installed
    distribution is itself, and anything else is the service's own top-level package.
    """

    def __init__(self, mapping):
        self.prefixes = sorted(((prefix, name) for name, prefixes in (mapping or {}).items()
                                for prefix in ([prefixes] if isinstance(prefixes, str)
                                               else prefixes)),
                               key=lambda p: -len(p[0]))
        self.stdlib = _stdlib_dirs()
        self.distributions = {}  # site directory -> {import name: distribution}
        self._modules = {}  # file -> module name
        self._modules_seen = -1
        self._cache = {}

    def _module_name(self, filename):
        if len(sys.modules) != self._modules_seen:
            self._modules_seen = len(sys.modules)
            files = {}
            for name, module in list(sys.modules.items()):
                path = getattr(module, "__file__", None)
                if not path:
                    continue
                if name == "__main__":
                    spec = getattr(module, "__spec__", None)
                    name = getattr(spec, "name", None) or name
                files[path] = name
            self._modules = files
            self._cache.clear()
        return self._modules.get(filename)

    def of(self, filename):
        """(component, module, is_runtime, is_import_machinery) of a source file."""
        found = self._cache.get(filename)
        if found is None:
            found = self._classify(filename)
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[filename] = found
        return found

    def _classify(self, filename):
        if filename.startswith("<"):
            machinery = "importlib" in filename
            return RUNTIME, filename, True, machinery
        if filename.startswith(_AGENT_DIR):
            return AGENT, "memory_analysis.agent", False, False
        module = self._module_name(filename)
        if module is not None:
            for prefix, name in self.prefixes:
                if module == prefix or module.startswith(prefix + "."):
                    return name, module, False, False
        real = os.path.realpath(filename)
        installed = _installed(real)
        if installed is None and real.startswith(self.stdlib):
            machinery = module is not None and module.startswith("importlib")
            return RUNTIME, module or os.path.basename(filename), True, machinery
        if installed is not None:
            site_dir, inside = installed
            top = inside.split(os.sep, 1)[0]
            top = top.split(".", 1)[0] if top.endswith((".py", ".so", ".pyd")) else top
            if site_dir not in self.distributions:
                self.distributions[site_dir] = _distributions_in(site_dir)
            return self.distributions[site_dir].get(top, top), module or top, False, False
        if module is not None:
            return module.split(".", 1)[0], module, False, False
        stem = os.path.splitext(os.path.basename(filename))[0]
        return stem, stem, False, False

    def attribute(self, frames):
        """The component and module an allocation belongs to, from its frames
        ((filename, lineno), innermost first): the innermost frame that is not the
        Python runtime's, so memory the standard library allocates for the service's
        code is the service's; what the import machinery allocates (the code of
        imported modules) is the runtime's."""
        for frame in frames:
            component, module, runtime, machinery = self.of(frame[0])
            if machinery:
                return RUNTIME, module
            if not runtime:
                return component, module
        innermost = self.of(frames[0][0])[1] if frames else "?"
        return RUNTIME, innermost


def _traced_by_traceback(tracemalloc):
    """(frames, bytes) for each distinct traceback of the traced memory; frames are
    (filename, lineno), innermost first.

    The public route (``take_snapshot().statistics("traceback")``) builds an object per
    trace and per frame: seconds for a few hundred thousand blocks, holding the
    interpreter all along. The raw traces it is built from share one tuple per distinct
    traceback; they are grouped by it without creating an object per trace (each object
    made while tracing costs a traceback of its own), ~15x faster.
    """
    try:
        import _tracemalloc
        traces = _tracemalloc._get_traces()
    except (ImportError, AttributeError):
        snapshot = tracemalloc.take_snapshot()
        return [(tuple((f.filename, f.lineno) for f in reversed(stat.traceback)), stat.size)
                for stat in snapshot.statistics("traceback")]
    from operator import itemgetter
    sizes = {frames: [] for frames in set(map(itemgetter(2), traces))}
    for trace in traces:
        sizes[trace[2]].append(trace[1])
    del traces
    return [(frames, sum(blocks)) for frames, blocks in sizes.items()]


def _type_name(kind):
    module = getattr(kind, "__module__", "builtins")
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module == "builtins" else module + "." + name


def count_objects(young_only):
    """Objects tracked by the garbage collector, by type: the top ones and the total.
    ``young_only``: the young generations alone (see ``Agent.objects_scope``)."""
    counts = {}
    for generation in ((0, 1) if young_only else (None,)):
        objects = gc.get_objects() if generation is None else gc.get_objects(generation)
        for obj in objects:
            kind = type(obj)
            counts[kind] = counts.get(kind, 0) + 1
        del objects
    top = sorted(counts.items(), key=lambda item: -item[1])[:TOP_TYPES]
    return {"scope": "young generations" if young_only else "all",
            "total": sum(counts.values()),
            "top": [[_type_name(kind), count] for kind, count in top]}


def _mb(size):
    return round(size / 1048576.0, 3)


def _os_threads():
    """Threads of this process, as the kernel counts them (/proc/self/stat field 20)."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[17])
    except (OSError, ValueError, IndexError):
        return None


def _thread_cpu():
    """CPU seconds of the calling thread (0 where the clock is missing)."""
    try:
        return time.thread_time()
    except (AttributeError, OSError):
        return 0.0


def _start_ticks():
    """The process's start time in clock ticks since boot (/proc/self/stat field 22),
    so a reader can tell this process from a later one given the same PID."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


class _Exclusive:
    """Keep the interpreter for the agent's thread during a short piece of work, with the
    garbage collector off: the work makes many short-lived containers (a snapshot one
    tuple per traced block), whose collections would count as the service's. What it
    changed is kept on the agent (``exclusive``), so a child forked meanwhile (fork()
    waits only so long for the agent) can put it back."""

    def __init__(self, agent):
        self.agent = agent

    def __enter__(self):
        self.agent.exclusive = (sys.getswitchinterval(), gc.isenabled())
        sys.setswitchinterval(max(self.agent.exclusive[0], EXCLUSIVE_S))
        gc.disable()

    def __exit__(self, *exc):
        _restore(self.agent.exclusive)
        self.agent.exclusive = None
        return False


def _restore(exclusive):
    if exclusive is not None:
        interval, collecting = exclusive
        if collecting:
            gc.enable()
        sys.setswitchinterval(interval)


class Agent:
    def __init__(self, directory, interval, tracemalloc_on, components):
        self.directory = directory
        self.interval = max(interval, MIN_INTERVAL_S)
        self.tracemalloc_wanted = tracemalloc_on
        self.components = Components(components)
        self._log_lines = 0
        self._control_mtime = None
        self.tracing_by_control = False
        self.periodic = True
        self.exclusive = None  # what _Exclusive changed, while it works
        self.forked = False  # a forked child
        self._snapshot_asked = 0
        self._reset()

    def _reset(self):
        """This process's state (anew in a forked child)."""
        self.pid = os.getpid()
        self.path = os.path.join(self.directory, "%d.json" % self.pid)
        self.start_ticks = _start_ticks()
        self.seq = 0
        self.pause_total = 0.0
        self.pause_max = 0.0
        self.pauses = 0
        self.window_max = 0.0
        self.windows = []
        self._gc_started = None
        self.objects = None
        self.objects_next = 0.0
        self.traced = None
        self.snapshot_next = 0.0
        self.snapshot_done = self._snapshot_asked
        self.failures = 0
        self.cpu_s = 0.0
        self._cpu_mark = None  # the running thread's CPU clock when it started
        self._cpu_thread = None
        self.stop = self.done = None  # the thread's, while it runs
        self.restart_pending = False

    # -- garbage collection pauses ---------------------------------------------------
    def on_gc(self, phase, info):
        if self.restart_pending and phase == "stop":
            self.restart_pending = False
            try:
                self.start_thread()
            except Exception:  # at interpreter shutdown, say: a callback must not raise
                pass
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        started, self._gc_started = self._gc_started, None
        if started is None:
            return
        pause = time.perf_counter() - started
        self.pause_total += pause
        self.pauses += 1
        if pause > self.pause_max:
            self.pause_max = pause
        if pause > self.window_max:
            self.window_max = pause

    def young_only(self):
        """Walk only the young generations: in a forked child (a full walk would
        touch, and so un-share, every page it shares with its master), on a heap too
        large to list within the agent's memory bound, or where the allocator does not
        count its blocks (PYTHONMALLOC=malloc)."""
        blocks = sys.getallocatedblocks()
        return self.forked or blocks == 0 or blocks > OBJECT_LIST_CAP

    # -- the report ------------------------------------------------------------------
    def _gc_figures(self):
        stats = gc.get_stats()
        return {"count": list(gc.get_count()),
                "collections": [s.get("collections", 0) for s in stats],
                "collected": [s.get("collected", 0) for s in stats],
                "uncollectable": [s.get("uncollectable", 0) for s in stats],
                "garbage": len(gc.garbage),
                "pauses": self.pauses,
                "pause_total_s": round(self.pause_total, 6),
                "pause_max_s": round(self.pause_max, 6),
                "windows": list(self.windows)}

    def _tracemalloc_figures(self, now, asked):
        import tracemalloc
        if not tracemalloc.is_tracing():
            return None
        current, peak = tracemalloc.get_traced_memory()
        figures = {"current_mb": _mb(current), "peak_mb": _mb(peak),
                   "overhead_mb": _mb(tracemalloc.get_tracemalloc_memory()),
                   "frames": tracemalloc.get_traceback_limit()}
        if asked or (self.periodic and now >= self.snapshot_next) or self.traced is None:
            began = time.perf_counter()
            with _Exclusive(self):
                self.traced = self._by_component(tracemalloc)
            took = time.perf_counter() - began
            self.traced["took_s"] = round(took, 4)
            self.snapshot_next = now + max(self.interval, took / SNAPSHOT_DUTY)
        if self.traced is not None:
            figures.update(self.traced)
        return figures

    def _by_component(self, tracemalloc):
        components, modules = {}, {}
        for frames, size in _traced_by_traceback(tracemalloc):
            component, module = self.components.attribute(frames)
            components[component] = components.get(component, 0) + size
            key = (component, module)
            modules[key] = modules.get(key, 0) + size
        top = sorted(modules.items(), key=lambda item: -item[1])[:TOP_MODULES]
        ranked = sorted(components.items(), key=lambda item: -item[1])
        kept = dict(ranked[:TOP_COMPONENTS])
        if len(ranked) > TOP_COMPONENTS:
            kept[OTHER] = sum(size for _, size in ranked[TOP_COMPONENTS:])
        return {"at": time.time(), "seq": self._snapshot_asked,
                "components_mb": {name: _mb(size) for name, size in kept.items()},
                "top_modules": [[module, component, _mb(size)]
                                for (component, module), size in top]}

    def report(self, asked=False):
        now = time.monotonic()
        self.seq += 1
        self.windows.append([self.seq, round(self.window_max, 6)])
        del self.windows[:-PAUSE_WINDOWS]
        self.window_max = 0.0
        if now >= self.objects_next:
            began = time.perf_counter()
            with _Exclusive(self):
                self.objects = count_objects(self.young_only())
            took = time.perf_counter() - began
            self.objects["at"] = time.time()
            self.objects_next = now + max(OBJECTS_MIN_GAP_S, took / OBJECTS_DUTY)
        record = {"pid": self.pid, "ppid": os.getppid(), "start_ticks": self.start_ticks,
                  "seq": self.seq, "time": time.time(), "interval_s": self.interval,
                  "python": sys.version.split()[0], "argv": [a[:200] for a in sys.argv[:4]],
                  "gc": self._gc_figures(), "objects": self.objects,
                  "tracemalloc": self._tracemalloc_figures(now, asked),
                  "snapshot_seq": self.snapshot_done,
                  # CPU the agent's thread has used in this process: its own cost.
                  "agent_cpu_s": round(self.cpu_s + self._running_cpu(), 4)}
        self._write(record)

    def _write(self, record):
        tmp = os.path.join(self.directory, ".%d.json.tmp" % self.pid)
        with open(tmp, "w") as handle:
            json.dump(record, handle, separators=(",", ":"))
        os.replace(tmp, self.path)

    # -- the control file ------------------------------------------------------------
    def read_control(self):
        """Settings from ``control.json`` (written by the runner or the monitor), read
        again whenever it changes: start tracemalloc, a component map, a snapshot now."""
        path = os.path.join(self.directory, CONTROL_FILE)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return False
        if mtime == self._control_mtime:
            return False
        self._control_mtime = mtime
        try:
            with open(path) as handle:
                control = json.load(handle)
        except (OSError, ValueError):
            return False  # half-written: read on the next change
        if control.get("components") is not None:
            self.components = Components(control["components"])
        if control.get("tracemalloc"):
            self.tracemalloc_wanted = True
            if self.start_tracemalloc():
                self.tracing_by_control = True
        elif control.get("tracemalloc") is False and self.tracing_by_control:
            # The monitor or runner that asked for tracing is done: stop paying for it.
            import tracemalloc
            tracemalloc.stop()
            self.tracing_by_control = False
            self.traced = None
        # "periodic": false leaves snapshots to the requests (the runner asks at the end
        # of each phase): none then falls in the middle of a phase it measures.
        self.periodic = control.get("periodic", True) is not False
        asked = int(control.get("snapshot", 0) or 0)
        if asked != self._snapshot_asked:
            self._snapshot_asked = asked
            return True
        return False

    def start_tracemalloc(self):
        """Start tracing if it is not on; whether this started it."""
        import tracemalloc
        if tracemalloc.is_tracing():
            return False
        tracemalloc.start(max(1, int(_float_env(ENV_FRAMES, TRACE_FRAMES))))
        return True

    # -- the thread ------------------------------------------------------------------
    def _running_cpu(self):
        """CPU the running thread has used so far (read from that thread only)."""
        if self._cpu_mark is None or _thread.get_ident() != self._cpu_thread:
            return 0.0
        return _thread_cpu() - self._cpu_mark

    def run(self, stop, done):
        next_report = time.monotonic()
        self._cpu_thread = _thread.get_ident()
        self._cpu_mark = _thread_cpu()
        try:
            while not stop.is_set():
                try:
                    asked = self.read_control()
                    now = time.monotonic()
                    if asked or now >= next_report:
                        self.report(asked)
                        if asked:
                            self.snapshot_done = self._snapshot_asked
                            self.report()  # the acknowledgement, with the snapshot in it
                        next_report = now + self.interval
                    self.failures = 0
                except Exception:
                    self.failures += 1
                    import traceback
                    self.log(traceback.format_exc())
                    if self.failures >= 10:
                        self.log("10 reports in a row failed: the agent stops reporting")
                        return
                stop.wait(min(CONTROL_POLL_S, self.interval))
        finally:
            if self._cpu_mark is not None:
                self.cpu_s += _thread_cpu() - self._cpu_mark
            self._cpu_mark = None
            done.set()

    def start_thread(self):
        """A bare thread (``_thread``): invisible to the service's ``threading``
        bookkeeping, and started without taking any of its locks."""
        self.restart_pending = False
        self.stop, self.done = threading.Event(), threading.Event()
        _thread.start_new_thread(self.run, (self.stop, self.done))

    def before_fork(self):
        """Stop the thread for the fork: a process forked while it has other threads
        may deadlock in the child, and Python 3.12+ warns about it on the service's
        stderr. The thread is gone (as the kernel counts threads) before fork() runs."""
        if self.done is None or self.done.is_set():
            return
        threads = _os_threads()
        self.stop.set()
        self.done.wait(FORK_JOIN_S)
        deadline = time.monotonic() + FORK_JOIN_S
        while threads is not None and time.monotonic() < deadline:
            now = _os_threads()
            if now is None or now < threads:
                break
            time.sleep(0.0005)

    def after_fork_in_parent(self):
        if self.done is None or self.failures >= 10:
            return
        if not self.done.is_set():  # still busy when fork() stopped waiting: carry on
            self.stop.clear()
            return
        if sys.version_info < (3, 13):
            self.start_thread()
        else:
            # 3.13 counts threads for its warning after these hooks have run: the thread
            # comes back at the next garbage collection instead (see ``on_gc``).
            self.restart_pending = True

    def after_fork(self):
        """In a forked child (a gunicorn worker): report under its own PID."""
        _restore(self.exclusive)  # forked in the middle of a walk: undo its settings
        self.exclusive = None
        self._reset()
        self.forked = True
        try:
            self.start_thread()
        except Exception:  # the child must run whatever happens here
            pass

    def at_exit(self):
        self.restart_pending = False
        if self.done is not None:
            self.stop.set()
            self.done.wait(1.0)
        try:
            self.report()
        except Exception:
            pass

    def log(self, text):
        if self._log_lines >= LOG_LINES_MAX:
            return
        self._log_lines += 1
        try:
            with open(os.path.join(self.directory, "agent-%d.log" % os.getpid()), "a") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + text.rstrip() + "\n")
        except OSError:
            self._log_lines = LOG_LINES_MAX


def _float_env(name, default):
    try:
        value = float(os.environ.get(name, ""))
        return value if value > 0 else default
    except ValueError:
        return default


def start_from_environment():
    """Start the agent if ``MEMORY_ANALYSIS_AGENT`` names a directory; return it (or
    None). Never raises: a service must start whatever happens here."""
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return None
    try:
        components = json.loads(os.environ.get(ENV_COMPONENTS) or "null")
    except ValueError:
        components = None
    if not isinstance(components, dict):
        components = None
    tracing = os.environ.get(ENV_TRACEMALLOC, "").strip().lower() in ("1", "true", "yes", "on")
    agent = Agent(os.path.abspath(directory), _float_env(ENV_INTERVAL, DEFAULT_INTERVAL_S),
                  tracing, components)
    try:
        os.makedirs(agent.directory, exist_ok=True)
        agent.read_control()
        agent.snapshot_done = agent._snapshot_asked  # earlier requests are not for us
        if agent.tracemalloc_wanted:
            agent.start_tracemalloc()
        agent.report()
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or exc
        sys.stderr.write("memory-analysis agent: cannot report to %s (%s); the agent is "
                         "off and the service runs as usual\n" % (directory, reason))
        return None
    try:
        agent.start_thread()
    except Exception as exc:
        sys.stderr.write("memory-analysis agent: cannot start its thread (%s); the agent is "
                         "off and the service runs as usual\n" % (exc,))
        return None
    gc.callbacks.append(agent.on_gc)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=agent.before_fork,
                            after_in_parent=agent.after_fork_in_parent,
                            after_in_child=agent.after_fork)
    atexit.register(agent.at_exit)
    return agent

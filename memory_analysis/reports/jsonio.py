"""JSON files the tools exchange: written atomically, streamed as JSON Lines.

Every report carries ``tool``, ``schema_version`` and ``complete``. A report is written
to a temporary file in the same directory and renamed over the target, so a reader
never sees half a file. Long runs also append each record to a JSON-Lines file as it
is taken, so a crash loses at most the record being written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from memory_analysis.errors import BadInput


def _new_file(directory: str, prefix: str, suffix: str = "") -> tuple[int, str]:
    """A file of our own, new and private (mode 0600), in ``directory``: what
    ``tempfile.mkstemp`` makes, without importing tempfile (shutil, random and the
    compression modules), which would add 5 ms to every tool's start-up."""
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                           0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free file name in {directory}")


def check_writable(path: str | os.PathLike[str]) -> str:
    """Fail early (BadInput) when ``path`` cannot be written; return it as a string.

    Creates nothing but a probe file, removed at once, in the target directory.
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    if os.path.isdir(target):
        raise BadInput(f"cannot write {target}: it is a directory")
    if not os.path.isdir(directory):
        raise BadInput(f"cannot write {target}: directory {directory} does not exist")
    try:
        fd, probe = _new_file(directory, ".probe-")
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    write_chunks_atomic(path, [text])


def write_chunks_atomic(path: str | os.PathLike[str], chunks: Iterable[str]) -> None:
    """Write the ``chunks`` one after another to ``path`` through a temporary file and a
    rename: a long report is never whole in memory, and never half-written on disk."""
    target = os.fspath(path)
    fd, tmp = _new_file(os.path.dirname(target) or ".", f".{os.path.basename(target)}.", ".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def chunks_with_raw_list(obj: dict[str, Any], key: str,
                         raw_items: Iterable[str]) -> Iterator[str]:
    """JSON text of ``obj`` with ``key`` set to a list of already-encoded items, in
    pieces: the items are spliced in as they come, never decoded again nor held at once."""
    head = json.dumps({k: v for k, v in obj.items() if k != key}, indent=2)
    yield head[:-2] + f',\n  "{key}": [' if head != "{}" else f'{{"{key}": ['
    first = True
    for item in raw_items:
        yield ("\n    " if first else ",\n    ") + item
        first = False
    yield ("]\n}\n" if first else "\n  ]\n}\n")


def dumps_with_raw_list(obj: dict[str, Any], key: str, raw_items: Iterable[str]) -> str:
    """``chunks_with_raw_list`` as one string."""
    return "".join(chunks_with_raw_list(obj, key, raw_items))


def read_json(path: str | os.PathLike[str], expect_tool: str | None = None) -> dict[str, Any]:
    """Read a report; BadInput when missing, malformed, or written by another tool."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object")
    if expect_tool is not None and data.get("tool") != expect_tool:
        raise BadInput(f"{path}: not a {expect_tool} report (tool is {data.get('tool')!r})")
    return data


class JsonLinesStream:
    """Append-only JSON-Lines file, flushed after every record.

    A flush hands the line to the kernel, so it survives ``kill -9`` of this process
    (only a machine crash could lose it), at the cost of one write call per record.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._handle: TextIO | None = open(self.path, "w", encoding="utf-8")
        self.lines = 0  # written so far: the next line's index

    def write_encoded(self, line: str) -> None:
        if self._handle is not None:
            self._handle.write(line + "\n")
            self._handle.flush()
            self.lines += 1

    def write(self, record: dict[str, Any]) -> None:
        self.write_encoded(json.dumps(record, separators=(",", ":")))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def lines_at(path: str | os.PathLike[str], indices: Iterable[int]) -> Iterator[str]:
    """The lines of a file at ``indices`` (ascending, 0-based), without their newline,
    read one at a time."""
    wanted = iter(indices)
    next_index = next(wanted, None)
    if next_index is None:
        return
    with open(path, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index == next_index:
                yield line.rstrip("\n")
                next_index = next(wanted, None)
                if next_index is None:
                    return

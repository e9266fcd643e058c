"""Several files in one folder written as one set, with a manifest that lets readers refuse a mix.

Renaming several files cannot be atomic, so the set is made checkable instead:

1. what an earlier, killed writer left behind (a staging folder of a process that is gone) is removed;
2. the new files are written into a staging folder inside the output folder and synced;
3. the manifest (e.g. ``split.json``) is replaced by the new one, which records the size and SHA-256
   of every file of the set;
4. each staged file is renamed into place, then the staging folder is removed.

A kill before step 3 leaves the old files with their old manifest, after step 4 the new files with
the new one, and in between files that do not match the manifest. Readers call
:func:`check_file_set`, which refuses such a mix with a :class:`~harness.errors.DataError` that says
how to repair it. A folder without a manifest, or with one that records no ``files``, is not checked.
Other files in the folder are left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from harness.errors import DataError
from harness.io import file_sha256, json_safe, owner_pid, process_alive

STAGING_PREFIX = ".staging."

# sets already checked in this process, keyed by their files' (inode, size, mtime): each set is hashed once
_verified: set[tuple[str, tuple[tuple[str, int, int, int], ...]]] = set()


def write_file_set(folder: str | Path, names: Sequence[str], fill: Callable[[dict[str, IO[str]]], None], *,
                   manifest_name: str, manifest: dict[str, Any]) -> dict[str, Path]:
    """Write ``folder/<name>`` for each of ``names`` and ``folder/<manifest_name>`` as one set.

    Returns ``{name: path}``. ``fill`` receives ``{name: text handle}`` and writes each file.
    ``manifest`` is stored with a ``files`` entry added (``{name: {"bytes", "sha256"}}``) and may
    carry a ``repair`` entry: the command that writes the set again, shown when a reader refuses it.
    An exception (or Ctrl-C) before the renames leaves the folder as it was.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}.", dir=out))
    try:
        staged = {name: staging / name for name in names}
        with contextlib.ExitStack() as stack:
            handles = {name: stack.enter_context(open(path, "w", encoding="utf-8", newline="\n"))
                       for name, path in staged.items()}
            fill(handles)
            for handle in handles.values():
                handle.flush()
                os.fsync(handle.fileno())
        files = {name: {"bytes": path.stat().st_size, "sha256": file_sha256(path)} for name, path in staged.items()}
        staged_manifest = staging / manifest_name
        with open(staged_manifest, "w", encoding="utf-8") as handle:
            json.dump(json_safe({**manifest, "files": files}), handle, indent=2, sort_keys=True,
                      ensure_ascii=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        mode = _default_file_mode()
        for path in [*staged.values(), staged_manifest]:
            os.chmod(path, mode)  # the staging folder is private (0700); the files get the usual permissions
        os.replace(staged_manifest, out / manifest_name)  # first: from here on the old files no longer match
        for name, path in staged.items():
            os.replace(path, out / name)
        _fsync_dir(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out / name for name in names}


def remove_stale_staging(folder: str | Path) -> list[Path]:
    """Remove the staging folders that writers killed earlier left in ``folder``; returns what was removed.

    A staging folder is named after the process that made it; one whose process is still running
    (another writer into the same folder) is left alone.
    """
    removed = []
    for path in Path(folder).glob(f"{STAGING_PREFIX}*"):
        pid = owner_pid(path.name[len(STAGING_PREFIX):])
        if pid is not None and (pid == os.getpid() or process_alive(pid)):
            continue  # a writer still running (in this process or another) owns it
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def check_file_set(folder: str | Path, manifest_name: str) -> dict[str, Any] | None:
    """Return the manifest of ``folder`` once its files match it; ``None`` when there is no manifest.

    Raises :class:`DataError` (exit 1) when a listed file is missing or differs from what the
    manifest recorded: an interrupted write left old and new files side by side, or a file was
    edited afterwards. A manifest that records no ``files`` is returned unchecked.
    """
    out = Path(folder)
    manifest_path = out / manifest_name
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _mixed(out, manifest_path, f"{manifest_path} cannot be read ({exc})", {}) from None
    if not isinstance(manifest, dict):
        raise _mixed(out, manifest_path, f"{manifest_path} is not a JSON object", {})
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return manifest
    key = (str(out.resolve()), _stats(out, files))
    if key in _verified:
        return manifest
    # sizes first (one stat per file, which catches almost every mix), then hashes: once per process
    for name, expected in sorted(files.items()):
        path = out / str(name)
        if not path.is_file():
            raise _mixed(out, manifest_path, f"{path} is missing although {manifest_path} lists it", manifest)
        if not isinstance(expected, dict) or path.stat().st_size != expected.get("bytes"):
            raise _mixed(out, manifest_path, f"{path} does not match {manifest_path}", manifest)
    for name, expected in sorted(files.items()):
        path = out / str(name)
        if file_sha256(path) != expected.get("sha256"):
            raise _mixed(out, manifest_path, f"{path} does not match {manifest_path}", manifest)
    _verified.add(key)
    return manifest


def _mixed(out: Path, manifest_path: Path, what: str, manifest: dict[str, Any]) -> DataError:
    interrupted = next(out.glob(f"{STAGING_PREFIX}*"), None) is not None
    cause = ("an earlier write into this folder was interrupted" if interrupted
             else "an earlier write into this folder was interrupted, or a file was edited afterwards")
    repair = manifest.get("repair")
    again = f"`{repair}`" if isinstance(repair, str) and repair else "the command that made it"
    return DataError(f"{what}: {cause}, so its files may mix two different versions",
                     hint=f"write the set again ({again}); if you edited the files on purpose, delete "
                          f"{manifest_path}", exit_code=1)


def _stats(out: Path, files: dict[str, Any]) -> tuple[tuple[str, int, int, int], ...]:
    stats = []
    for name in sorted(map(str, files)):
        try:
            st = (out / name).stat()
            stats.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((name, -1, -1, -1))
    return tuple(stats)


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

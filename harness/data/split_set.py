"""A split folder as one set: ``{train,val,test}.jsonl`` and ``split.json``, never a silent mix.

The files are written with :func:`harness.io_sets.write_file_set`: staged in the folder, then
``split.json`` (with the size and SHA-256 of each file) replaces the old one, then the files are
renamed into place. A kill between the renames leaves files that do not match ``split.json``, and
every reader of a split (:func:`check_split_folder`, :func:`check_split_member`,
``evalsets.split_files``) refuses them with the command that repairs them. Files next to the split
(the source, notes) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from harness.data.split import SPLIT_NAMES
from harness.io_sets import check_file_set, write_file_set

MANIFEST = "split.json"


def split_paths(folder: str | Path) -> dict[str, Path]:
    """Return ``{"train"|"val"|"test": folder/<name>.jsonl}``."""
    return {name: Path(folder) / f"{name}.jsonl" for name in SPLIT_NAMES}


def output_paths(folder: str | Path) -> list[Path]:
    """Return every path a split into ``folder`` writes: the three files and ``split.json``."""
    return [*split_paths(folder).values(), Path(folder) / MANIFEST]


def write_split_set(folder: str | Path, fill: Callable[[dict[str, IO[str]]], None],
                    manifest: dict[str, Any]) -> dict[str, Path]:
    """Write the three split files and ``split.json`` as one set; returns ``{"train"|"val"|"test": path}``.

    ``fill`` receives ``{"train"|"val"|"test": text handle}``; ``manifest`` is stored in
    ``split.json`` with the ``files`` it describes (see :func:`harness.io_sets.write_file_set`).
    """
    names = {name: f"{name}.jsonl" for name in SPLIT_NAMES}

    def fill_by_file(handles: dict[str, IO[str]]) -> None:
        fill({name: handles[file] for name, file in names.items()})

    write_file_set(folder, list(names.values()), fill_by_file, manifest_name=MANIFEST, manifest=manifest)
    return split_paths(folder)


def check_split_folder(folder: str | Path) -> dict[str, Any] | None:
    """Return the ``split.json`` of ``folder`` once the files match it; ``None`` when there is none.

    Raises :class:`~harness.errors.DataError` (exit 1) when they do not match: a split that was
    interrupted between its renames (train, val and test may then come from two different splits
    and share rows) or a file edited after the split.
    """
    return check_file_set(folder, MANIFEST)


def check_split_member(path: str | Path) -> None:
    """Return nothing; when ``path`` is a split file and its folder has ``split.json``, check the set.

    Raises :class:`~harness.errors.DataError` as :func:`check_split_folder` does; any other file
    passes unchecked.
    """
    path = Path(path)
    if path.suffix == ".jsonl" and path.stem in SPLIT_NAMES and (path.parent / MANIFEST).is_file():
        check_split_folder(path.parent)

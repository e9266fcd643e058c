"""The bundled eval sets (``support``, ``extract``, ``classify``, ``general``) and the one way to find them.

Every caller locates a bundled set through :func:`path` or :func:`split_files`; the generator that writes
them lives in :mod:`evalsets.generate` (entry point) and :mod:`evalsets.generators`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
SET_NAMES: tuple[str, ...] = ("support", "extract", "classify", "general")
SPLITS: tuple[str, ...] = ("train", "val", "test")

__all__ = ["ROOT", "SET_NAMES", "SPLITS", "path", "split_files"]


def path(name: str) -> Path:
    """Return the folder of the bundled set ``name`` (``evalsets/<name>/``).

    Raises :class:`harness.errors.DataError` naming the known sets when ``name`` is not one of them.
    """
    if name not in SET_NAMES:
        from harness.errors import DataError

        raise DataError(f"unknown bundled eval set {name!r}",
                        hint=f"the bundled sets are: {', '.join(SET_NAMES)}")
    return ROOT / name


def split_files(name: str) -> dict[str, Path]:
    """Return ``{"train"|"val"|"test": path}`` of the bundled set ``name`` (files may be missing on disk).

    When the set's folder has a ``split.json`` (written by ``harness data split``), the files are
    checked against it first: a set that an interrupted split left half-replaced raises
    :class:`harness.errors.DataError` instead of handing out train/val/test from two different splits.
    """
    from harness.io_sets import check_file_set

    folder = path(name)
    check_file_set(folder, "split.json")
    return {split: folder / f"{split}.jsonl" for split in SPLITS}

"""Model fingerprints: sha256 over a model's (and adapter's) files, cached by path+mtime+size.

Hashing a 500 MB checkpoint takes a second or two, so each file's digest is remembered in
``$HARNESS_CACHE/fingerprints.json`` and recomputed only when the file's mtime or size changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_LOCK = threading.Lock()
_MEMORY: dict[str, str] = {}
# Files that cannot change generations (docs, training logs, optimizer state) are left out.
_SKIP_SUFFIXES = {".md", ".log", ".txt.lock", ".pt.lock"}
_SKIP_NAMES = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "training_args.bin", "README.md"}


def _cache_file() -> Path:
    root = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")
    return root / "fingerprints.json"


def _load_disk_cache() -> dict[str, str]:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def file_digest(path: Path) -> str:
    """sha256 of one file, from the cache when its path, mtime and size are unchanged."""
    from harness.io import file_sha256

    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
    with _LOCK:
        if key in _MEMORY:
            return _MEMORY[key]
        disk = _load_disk_cache()
        if key in disk:
            _MEMORY[key] = disk[key]
            return disk[key]
    digest = file_sha256(path)
    with _LOCK:
        _MEMORY[key] = digest
        disk = _load_disk_cache()
        disk[key] = digest
        try:
            from harness.io import write_json

            write_json(_cache_file(), disk)
        except OSError:  # a read-only cache only costs speed
            pass
    return digest


def _model_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.name in _SKIP_NAMES or path.suffix in _SKIP_SUFFIXES or "checkpoint-" in str(rel):
            continue
        files.append(path)
    return files


def path_fingerprint(path: str | os.PathLike[str]) -> str:
    """sha256 over the relative names and digests of a model folder's files (or one file)."""
    target = Path(path)
    outer = hashlib.sha256()
    if target.is_file():
        outer.update(f"{target.name}:{file_digest(target)}\n".encode())
        return outer.hexdigest()
    for file in _model_files(target):
        outer.update(f"{file.relative_to(target).as_posix()}:{file_digest(file)}\n".encode())
    return outer.hexdigest()


def model_fingerprint(model: str, adapter: str | None = None, *, kind: str = "local") -> str:
    """Fingerprint of a model and optional adapter: file hashes for local paths, the id otherwise."""
    parts = []
    for value in (model, adapter):
        if value is None:
            continue
        parts.append(path_fingerprint(value) if Path(value).exists() else f"id:{value}")
    return hashlib.sha256(f"{kind}|{'|'.join(parts)}".encode()).hexdigest()

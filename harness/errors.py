"""User-facing errors.

Every error a user can cause (bad file, bad flag, bad config) is raised as :class:`HarnessError`
with a message that names the value, where it came from and how to fix it. The CLI prints it
without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by user input; printed by the CLI as ``error: <message>`` (plus ``hint``)."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(HarnessError):
    """A YAML/JSON config or suite file is invalid; the message names the file and field."""


class DataError(HarnessError):
    """An input data file cannot be used; the message names the file and line."""


class DependencyError(HarnessError):
    """An optional dependency or hardware (GPU, vllm, bitsandbytes) is missing for what was asked."""


# Operating-system errors a user causes (a path they named, a folder they cannot write, a full disk):
# errno -> (what happened, how to fix it). Other OSErrors (a missing file harness itself needs...) stay
# internal errors, reported as bugs.
_OS_ERRORS: dict[str, tuple[str, str]] = {
    "EACCES": ("permission denied", "make it writable (or readable) for you, or choose another path"),
    "EPERM": ("operation not permitted", "make it writable for you (check `chattr`/ownership), or choose another path"),
    "EROFS": ("the file system is read-only", "choose a path on a writable file system"),
    "EISDIR": ("is a folder, not a file", "pass a file path, not a folder"),
    "ENOTDIR": ("a file is in the way where a folder is needed", "pass a folder path (or remove the file in the way)"),
    "EEXIST": ("already exists", "remove it or choose another path"),
    "ENAMETOOLONG": ("the path is too long", "choose a shorter path"),
    "ELOOP": ("too many levels of symbolic links", "fix the symbolic link or pass the real path"),
    "ENOSPC": ("no space left on the device", "free some disk space or write somewhere else"),
    "EDQUOT": ("disk quota exceeded", "free some space or write somewhere else"),
}


def from_os_error(exc: OSError, *, workspace: str | None = None) -> HarnessError | None:
    """Return a :class:`HarnessError` naming the path and the fix for an ``OSError`` a user caused, else None.

    A temporary or staging name (``.out.jsonl.x1y2.tmp``) is reported as its folder. ``workspace``
    (the workspace folder, when known) turns the hint to ``--workspace`` when the path lies inside it.
    """
    import errno
    from pathlib import Path

    name = errno.errorcode.get(exc.errno or 0, "")
    if name not in _OS_ERRORS:
        return None
    what, fix = _OS_ERRORS[name]
    raw = exc.filename2 if name in ("EISDIR", "EEXIST") and exc.filename2 else exc.filename
    if raw is None:
        return HarnessError(f"{exc.strerror or what}", hint=fix, exit_code=1) if name in ("ENOSPC", "EDQUOT") else None
    path = Path(str(raw) if not isinstance(raw, bytes) else raw.decode(errors="replace"))
    if path.name.startswith(".") and (".tmp" in path.name or "staging" in path.name):
        path = path.parent  # our atomic writers' temporary names mean nothing to the user
        if name in ("EACCES", "EPERM"):
            what = f"cannot write in this folder ({what})"
    elif name in ("EACCES", "EPERM", "EROFS") and not path.exists():
        what = f"cannot create it in {path.parent} ({what})"
    if workspace and name in ("EACCES", "EPERM", "EROFS") and _inside(path, Path(workspace)):
        fix = (f"the workspace {workspace} must be writable: make it writable for you, or pass --workspace "
               "with a writable folder")
    return HarnessError(f"{path}: {what}", hint=fix, exit_code=2)


def _inside(path, folder) -> bool:  # type: ignore[no-untyped-def]
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True

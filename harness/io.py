"""Small I/O helpers shared by every module: atomic writes, streaming JSONL, and the output guards.

Every command that writes a file asks :func:`check_outputs` first: an output that is one of the
inputs (through symlinks or hard links) is refused, and an existing output is replaced only with
``--force``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    An interrupted write (exception, Ctrl-C, kill -9) leaves ``path`` untouched and no partial
    file under its name; the temporary file a kill -9 leaves is removed by the next write of ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the file ordinary permissions
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed writes of ``path`` left beside it; returns what was removed.

    A temporary file carries the id of the process that wrote it; one whose process still runs is kept.
    """
    import glob

    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        rest = tmp.name[len(path.name) + 2:].split(".")  # "<pid>.<random>.tmp", the name mkstemp made
        pid = owner_pid(rest[0]) if len(rest) == 3 else None
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def owner_pid(name: str) -> int | None:
    """Return the process id that starts ``name`` (``"<pid>.<random>..."``), or ``None`` when there is none."""
    head = name.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def process_alive(pid: int) -> bool:
    """Return True when process ``pid`` exists (or cannot be checked), False when it is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process, or a platform that cannot tell: assume it runs
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None``, recursively (JSON has no NaN).

    The one cleaner for everything the harness writes or prints as JSON: mappings (keys become
    strings), lists and tuples (become lists), numpy scalars and arrays (become Python numbers and
    lists); anything else is returned as it is.
    """
    import math

    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict) or hasattr(value, "items") and callable(value.items):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    item = getattr(value, "tolist", None)  # numpy scalar or array
    if callable(item) and type(value).__module__ == "numpy":
        return json_safe(item())
    return value


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as pretty, key-sorted JSON (the format of every config/record file)."""
    with atomic_write(path) as handle:
        json.dump(obj, handle, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        handle.write("\n")


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Atomically write rows as JSON lines; returns the number of rows written."""
    count = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=False))
            handle.write("\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file (1-based lines).

    Streams the file and decodes it strictly: a UTF-16/UTF-32 file, a line that is not UTF-8, invalid
    JSON, a lone surrogate escape (``"\\ud800"``) or a line that is not an object raises
    :class:`harness.errors.DataError` (exit 1) naming the file and line. A UTF-8 byte-order mark is
    allowed. Use :mod:`harness.data.validate` for a full report instead of the first error.
    """
    from harness.errors import DataError

    wide = wide_encoding(path)
    if wide is not None:
        code = wide.split()[0] + ("LE" if "little" in wide else "BE")
        raise DataError(f"{path} is {wide.split()[0]}: convert it to UTF-8 (iconv -f {code} -t UTF-8 {path} > "
                        "converted.jsonl)", hint=f"the file is {wide} text; JSONL files must be UTF-8", exit_code=1)
    hint = "each line must be one JSON object; run `harness data validate` for a full report"
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid UTF-8 (byte {exc.start + 1}: {raw[exc.start:exc.start + 1]!r})",
                                hint="save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)", exit_code=1) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})", hint=hint,
                                exit_code=1) from None
            except (ValueError, RecursionError) as exc:  # json's limit on integer digits; deep nesting
                what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
                raise DataError(f"{path}:{number}: invalid JSON ({what})",
                                hint="write long numbers as strings; keep objects less deeply nested", exit_code=1) from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}", hint=hint,
                                exit_code=1)
            if "\\u" in line and (where := lone_surrogate_at(obj)) is not None:
                raise DataError(f"{path}:{number}: {where} holds a lone surrogate escape, not valid Unicode",
                                hint="fix or remove the \\ud800-\\udfff escape (half of a UTF-16 pair)", exit_code=1)
            yield number, obj


UTF8_BOM = b"\xef\xbb\xbf"


def wide_encoding(path: str | os.PathLike[str]) -> str | None:
    """Return the UTF-16/UTF-32 flavour of a file written in one (by its byte-order mark or NUL pattern), else None.

    E.g. ``"UTF-16 little-endian"``. JSON lines start with ASCII (``{``, whitespace), so a wide
    encoding without a mark still shows as NUL bytes beside the first characters.
    """
    with open(path, "rb") as handle:
        return wide_encoding_of(handle.read(8))


def wide_encoding_of(head: bytes) -> str | None:
    """:func:`wide_encoding` of a file whose first bytes are ``head``."""
    for mark, name in ((b"\xff\xfe\x00\x00", "UTF-32 little-endian"), (b"\x00\x00\xfe\xff", "UTF-32 big-endian"),
                       (b"\xff\xfe", "UTF-16 little-endian"), (b"\xfe\xff", "UTF-16 big-endian")):
        if head.startswith(mark):
            return name
    if len(head) >= 4 and head[0] != 0 and head[1] == 0 and head[3] == 0:
        return "UTF-16 little-endian" if head[2] != 0 else "UTF-32 little-endian"
    if len(head) >= 4 and head[0] == 0 and head[1] != 0 and head[2] == 0:
        return "UTF-16 big-endian"
    return None


def decode_utf8(data: bytes, path: str | os.PathLike[str], *, kind: str, error: type[Exception]) -> str:
    """The text of a file (``data``, read from ``path``) decoded as UTF-8, a byte-order mark dropped.

    A UTF-16/UTF-32 file or bytes that are not UTF-8 raise ``error`` (a ``HarnessError`` class) naming
    the file (``kind``: "labels file", "suite") and the line, with the ``iconv`` command that converts it.
    """
    wide = wide_encoding_of(data[:8])
    if wide is not None:
        raise error(f"{path}: the {kind} is {wide} text, not UTF-8",
                    hint=f"convert it: iconv -f {wide.split()[0]} -t UTF-8 FILE > NEW_FILE (or save it as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: the {kind} is not valid UTF-8 (byte {data[exc.start:exc.start + 1]!r})",
                    hint="save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > NEW_FILE)") from None


def lone_surrogate_at(value: Any, where: str = "line") -> str | None:
    """Return where in a parsed JSON/YAML value a string (or key) holds a lone UTF-16 surrogate (``"\\ud800"``),
    else None.

    ``json`` and YAML decode such an escape into a str that cannot be encoded as UTF-8, so every later
    write, hash, database insert or tokenizer call would fail on it. The place is a dotted path below
    ``where`` (``messages[0].content``; a top-level key is named alone). YAML aliases can make a document
    contain itself: each container is visited once.
    """
    stack: list[tuple[Any, str, bool]] = [(value, where, True)]
    seen: set[int] = set()
    while stack:
        node, at, root = stack.pop()
        if isinstance(node, str):
            if not _is_utf8(node):
                return at
        elif isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            for key, child in (node.items() if isinstance(node, dict) else enumerate(node)):
                if isinstance(key, str) and not _is_utf8(key):
                    return f"a key of {at}"
                name = f"{at}[{key}]" if isinstance(node, list) else str(key) if root else f"{at}.{key}"
                stack.append((child, name, False))
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_sha256(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks (used for dataset and weight fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Return True when ``a`` and ``b`` name one file: the same path after following symlinks, or hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overlap(outputs: Iterable[str | os.PathLike[str]], inputs: Iterable[str | os.PathLike[str]], *,
                   option: str) -> None:
    """Return nothing; raise :class:`HarnessError` (exit 2) when an output would replace one of the inputs.

    Symlinks are followed and hard links recognised, so ``--out link-to-input`` is refused too. This is
    the one check every command that writes files runs before it writes (``option`` names the flag).
    """
    from harness.errors import HarnessError

    sources = [Path(p) for p in inputs]
    for out in outputs:
        for source in sources:
            if same_file(out, source):
                raise HarnessError(f"{option} {out} would overwrite the input {source}",
                                   hint=f"write to a path that is not an input: choose another {option}")


def refuse_overwrite(outputs: Iterable[str | os.PathLike[str]], *, force: bool, option: str,
                     flag: str = "--force") -> None:
    """Return nothing; raise :class:`HarnessError` (exit 2) naming the first output that already exists.

    ``force`` (the command's ``--force``) allows replacing files; a folder where a file is expected is
    refused even then. Every command that writes an output asks this before writing.
    """
    from harness.errors import HarnessError

    for out in map(Path, outputs):
        if out.is_dir():
            raise HarnessError(f"{option} {out}: a folder is in the way of an output file",
                               hint=f"remove the folder or choose another {option}")
        if not force and (out.exists() or out.is_symlink()):
            raise HarnessError(f"{out} already exists; refusing to overwrite it",
                               hint=f"pass {flag} to replace it, or choose another {option}")


def check_outputs(outputs: Iterable[str | os.PathLike[str]], *, inputs: Iterable[str | os.PathLike[str]] = (),
                  force: bool, option: str = "--out", flag: str = "--force") -> None:
    """Return nothing; run :func:`refuse_overlap` then :func:`refuse_overwrite` on the output paths."""
    outputs = list(outputs)
    refuse_overlap(outputs, inputs, option=option)
    refuse_overwrite(outputs, force=force, option=option, flag=flag)


def refuse_nested(out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], *, option: str) -> None:
    """Return nothing; raise :class:`HarnessError` (exit 2) when folder ``out`` is, lies inside or holds an input.

    For a command that replaces a whole output folder: writing into an input folder (or replacing a
    folder that holds an input) would destroy the input. Symlinks are followed.
    """
    from harness.errors import HarnessError

    target = Path(os.path.realpath(out))
    for source in inputs:
        real = Path(os.path.realpath(source))
        if target == real or real in target.parents or target in real.parents:
            where = ("is" if target == real else "lies inside" if real in target.parents else "holds")
            raise HarnessError(f"{option} {out} {where} the input {source}; replacing it would destroy the input",
                               hint=f"choose another {option}, outside the input folders")


def check_output_folder(out: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (), force: bool,
                        option: str = "--out", flag: str = "--force") -> None:
    """Return nothing; refuse an output folder that overlaps an input (:func:`refuse_nested`), a file in its
    place, or an existing non-empty folder unless ``force`` (the command's ``--force``); exit 2."""
    from harness.errors import HarnessError

    refuse_nested(out, inputs, option=option)
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise HarnessError(f"{option} {out} is a file, not a folder", hint=f"remove it or choose another {option}")
    if not force and path.is_dir() and any(path.iterdir()):
        raise HarnessError(f"{option} {out} already exists and is not empty; refusing to replace it",
                           hint=f"pass {flag} to replace the folder, or choose another {option}")

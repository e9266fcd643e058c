"""Reading user config files (suites, gateway configs): one YAML reader, one way to word validation errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def read_yaml(path: str | os.PathLike[str], *, kind: str) -> Any:
    """The parsed YAML (or JSON) document at ``path``; a missing file or invalid YAML is a :class:`ConfigError`.

    ``kind`` names the file in messages ("suite", "gateway config"); a YAML error names the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind} file not found: {path}" if kind == "suite" else f"{kind} not found: {path}",
                          hint=f"pass the path of a {kind} YAML file")
    return parse_yaml(read_config_text(path, kind=kind), path)


def parse_yaml(text: str, path: str | os.PathLike[str]) -> Any:
    """The YAML (or JSON) document in ``text``, read from ``path``; a :class:`ConfigError` naming the file when
    it is invalid YAML (with the line), holds an integer Python cannot read (over 4,300 digits), nests past
    the recursion limit, or holds a string with a lone surrogate (``"\\ud800"``: not Unicode)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply", hint="flatten the nesting") from None
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) for integer string conversion"
        raise ConfigError(f"{path}: invalid YAML: {str(exc).split(';')[0]}",
                          hint="quote long numbers to make them strings") from None
    where = find_lone_surrogate(data)
    if where is not None:
        raise ConfigError(f"{path}: {where} holds a lone surrogate escape (e.g. \"\\ud800\"), which is not "
                          "valid Unicode", hint="remove the escape or write the character itself") from None
    return data


def find_lone_surrogate(data: Any) -> str | None:
    """The dotted path of the first string (or key) in ``data`` that cannot be encoded as UTF-8, else None
    (:func:`harness.io.lone_surrogate_at` from the top level)."""
    from harness.io import lone_surrogate_at

    return lone_surrogate_at(data, "(top level)")


def read_config_text(path: str | os.PathLike[str], *, kind: str) -> str:
    """The text of the config file at ``path``, decoded as UTF-8 (a UTF-8 byte-order mark is dropped).

    A folder, an unreadable file or one in another encoding (UTF-16 from a Windows editor, Latin-1)
    is a :class:`ConfigError` that names the file and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a {kind} file", hint=f"pass the {kind} YAML file itself")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {kind} file ({exc.strerror})",
                          hint="check the path and its permissions") from None
    from harness.io import decode_utf8

    return decode_utf8(data, path, kind=f"{kind} file", error=ConfigError)


def format_validation_error(exc: Any, source: str) -> str:
    """One line per problem of a pydantic ``ValidationError``: ``SOURCE: candidates[2].model: required``."""
    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            else:
                loc += ("." if loc else "") + str(part)
        if err["type"] == "missing":
            msg = "required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {loc or '(top level)'}: {msg}")
    return "\n".join(lines)

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
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind} file not found: {path}" if kind == "suite" else f"{kind} not found: {path}",
                          hint=f"pass the path of a {kind} YAML file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None


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

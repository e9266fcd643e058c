"""Shared pieces of the fuzz suite: hostile bytes, hostile JSON/YAML values, wrong documents, and the checks.

Every reader test states the same two properties:

* :func:`only_harness_errors`: the call returns or raises :class:`harness.errors.HarnessError`; any other
  exception (``KeyError``, ``RecursionError``, ``UnicodeEncodeError``, a pydantic ``ValidationError``...)
  propagates and fails the example, which Hypothesis then shrinks to the smallest input;
* :func:`files_unchanged`: every file that existed under a folder before the call has the same bytes after.

The number of examples is bounded for CI (:func:`fuzz_settings`); ``HARNESS_FUZZ_SCALE=20`` runs twenty
times as many locally. Runs are derandomized: CI sees the same examples every time.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from harness.errors import HarnessError

SCALE = float(os.environ.get("HARNESS_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int, *, shrink: bool = True) -> settings:
    """Settings for one fuzz test: ``examples`` (times ``HARNESS_FUZZ_SCALE``), no deadline, derandomized.

    ``shrink=False`` skips shrinking a failure to its smallest form (minutes on these inputs): for a test
    marked ``xfail`` on a known bug, so that it costs CI no more than a passing one.
    """
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=True, database=None,
                    phases=phases, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.function_scoped_fixture,
                                                          HealthCheck.filter_too_much])


# --- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """Text written verbatim into a JSON document (numbers JSON cannot round-trip, deep nesting)."""

    text: str


ODD_TEXTS = (
    "", " ", "\x00", "\ud800", "\udfff", "\ufeff", "e\u0301", "\u202e", "\U0001d518", "\u00a0", "a" * 2000,
    "../../etc/passwd", "/", ".", "~", "NaN", "null", "true", "1e999", "-0", "\n", "\r\n", "${HOME}", "*",
    "C:\\x", "\t", "0x10", "1,5", "system", "assistant", "user", "id", "\u0130", "\u03a3", "' OR 1=1 --",
)
ODD_CHARACTERS = ("\ud800", "\udfff", "\x00", "\u202e", "\ufeff", "\u0301", "\n", "\r", "\t", "\"", ",", "/", "\\",
                  "\U0001f600", "\u00e9", "\u2028", " ")
ODD_NUMBERS = (0, -1, 1, 2, 2**31, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324, -0.0, 0.5, 1e-12,
               float("nan"), float("inf"), float("-inf"))
#: Literals that the JSON writer cannot produce but a file can hold.
RAW_LITERALS = (
    Raw("9" * 4400),  # over Python's int-string limit (4300 digits): ValueError in json.loads
    Raw("1e999"), Raw("-1e999"), Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1.0e-400"),
    Raw('"\\ud800"'), Raw('"x\\udfff"'), Raw('"\\u0000"'),
    Raw("[" * 1100 + "]" * 1100),  # nested past the recursion limit: RecursionError in json.loads
    Raw('{"a":' * 1100 + "1" + "}" * 1100),
)

odd_text = st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXTS))
numbers = st.one_of(st.integers(), st.integers(min_value=-(2**200), max_value=2**200),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_NUMBERS))
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(odd_text, inner, max_size=4)),
                           max_leaves=10)
#: A value to put where a document expects something else: anything JSON holds, or a raw literal.
hostile_values = st.one_of(json_values, st.sampled_from(RAW_LITERALS), scalars)


def dump_json(value: Any) -> str:
    """``value`` as JSON text; NaN/Infinity as Python writes them, :class:`Raw` verbatim, keys as strings."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dump_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    return json.dumps(value)


def dump_yaml(value: Any) -> str:
    """``value`` as YAML (block style); a :class:`Raw` becomes its text as a plain scalar or flow document.

    Falls back to JSON (a YAML subset, near enough) when PyYAML cannot represent a value.
    """
    import yaml

    def plain(node: Any) -> Any:
        if isinstance(node, Raw):
            return node.text
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    try:
        return yaml.safe_dump(plain(value), allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, UnicodeError, ValueError):
        return dump_json(value)


# --- documents -------------------------------------------------------------------------------------


def _paths(node: Any, at: tuple = ()) -> Iterator[tuple]:
    yield at
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*at, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _paths(child, (*at, i))


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def wrong_documents(draw: st.DrawFn, valid: Any, max_mutations: int = 3) -> Any:
    """``valid`` (a dict or list document) with 1 to ``max_mutations`` mutations, keeping the top-level shape.

    A mutation replaces a value with a hostile one (wrong type, huge number, NaN, odd unicode), puts an odd
    character (lone surrogate, NUL, a quote, a newline) into a string, replaces a value with a raw
    literal (an integer of 4,400 digits, nesting 3,000 deep, a lone surrogate escape), deletes a key or list item, adds an unknown key or item, or renames a key.
    """
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(list(_paths(doc))))
        target = _get(doc, path)
        ops = ["add"] if isinstance(target, dict | list) else []
        if path:
            ops += ["replace", "replace", "raw", "delete"]
            if isinstance(path[-1], str):
                ops.append("rename")
            if isinstance(target, str):
                ops += ["unicode", "unicode"]
        if not ops:
            continue
        op = draw(st.sampled_from(ops))
        parent = _get(doc, path[:-1]) if path else None
        if op == "replace":
            parent[path[-1]] = draw(hostile_values)
        elif op == "unicode":  # the same string with an odd character in it
            at = draw(st.integers(0, len(target)))
            parent[path[-1]] = target[:at] + draw(st.sampled_from(ODD_CHARACTERS)) + target[at:]
        elif op == "raw":
            parent[path[-1]] = draw(st.sampled_from(RAW_LITERALS))
        elif op == "delete":
            del parent[path[-1]]
        elif op == "rename":
            parent[draw(odd_text)] = parent.pop(path[-1])
        elif isinstance(target, dict):
            target[draw(odd_text)] = draw(hostile_values)
        else:
            target.insert(draw(st.integers(0, len(target))), draw(hostile_values))
    return doc


# --- bytes -----------------------------------------------------------------------------------------

PREFIXES = (b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x1f\x8b", b"PK\x03\x04",
            b"PAR1", b"SQLite format 3\x00", b"\x00", b"{", b"[", b"\n\n", b"\r\n", b"%YAML 1.1\n---\n")
YAML_SNIPPETS = (
    "a: &a [*a]\n",  # a recursive alias: a list that contains itself
    "x: &x {y: *x}\n",
    "!!python/object/apply:os.system [echo hi]\n",
    "a: !!binary aGVsbG8=\n", "a: 2024-01-01\n", "a: 2024-01-01 10:00:00\n", "a: !!set {x, y}\n",
    "? [1, 2]\n: x\n", "? {a: 1}\n: x\n", "a: 1\na: 2\n", "a: .nan\nb: .inf\n", "- a\n- b\n", "just text\n",
    "a: 0o17\nb: 0x1F\nc: 1_000\n", "name: [\n", "a:\n\tb: 1\n", "---\na: 1\n---\nb: 2\n", "~\n", "''\n",
    "<<: {a: 1}\n", "a: " + "9" * 4400 + "\n", "a: !!int " + "9" * 4400 + "\n",
)


def encode_text(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding`` (unencodable characters replaced; lone surrogates kept in UTF-8)."""
    errors = "surrogatepass" if encoding == "utf-8" else "replace"
    return text.encode(encoding, errors=errors)


#: Text encodings a user's file may arrive in.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252")


def hostile_bytes(text_documents: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[bytes]:
    """Arbitrary file contents: random bytes after a telling prefix (BOM, gzip/zip/Parquet magic, NUL),
    ``text_documents`` (default: YAML snippets and JSON values) in a random encoding, or those spliced
    with random bytes."""
    docs = text_documents if text_documents is not None else st.one_of(
        st.sampled_from(YAML_SNIPPETS), json_values.map(dump_json), st.sampled_from(RAW_LITERALS).map(dump_json))
    prefixed = st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=300)).map(lambda t: t[0] + t[1])
    encoded = st.tuples(docs, st.sampled_from(ENCODINGS)).map(lambda t: encode_text(*t))
    spliced = st.tuples(encoded, st.binary(max_size=20), st.integers(0, 400)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:])
    return st.one_of(st.binary(max_size=400), prefixed, encoded, spliced)


def jsonl_text(lines: st.SearchStrategy[Any], max_lines: int = 5) -> st.SearchStrategy[str]:
    """JSON-lines text from ``lines`` (values), with random line endings and blank lines between them."""
    sep = st.sampled_from(["\n", "\r\n", "\n\n", "\r", "\n \n"])
    return st.lists(st.tuples(lines.map(dump_json), sep), min_size=1, max_size=max_lines).map(
        lambda rows: "".join(text + end for text, end in rows))


# --- the checks ------------------------------------------------------------------------------------


def only_harness_errors(call: Callable[[], Any]) -> HarnessError | None:
    """Run ``call``; returns the :class:`HarnessError` it raised (None when it returned).

    Any other exception propagates (the property fails). A HarnessError must say something.
    """
    try:
        call()
    except HarnessError as exc:
        assert exc.message.strip(), f"{type(exc).__name__} with an empty message"
        assert isinstance(exc.exit_code, int) and exc.exit_code in (1, 2), f"exit code {exc.exit_code!r}"
        return exc
    return None


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@contextmanager
def files_unchanged(folder: Path) -> Iterator[None]:
    """Assert that every file under ``folder`` before the block is there with the same bytes after it.

    New files are allowed (the outputs of a call that succeeded).
    """
    before = snapshot(folder)
    yield
    after = snapshot(folder)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"files changed or removed: {changed}"


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder for one example (Hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


@dataclass
class CliOutcome:
    """Exit code and combined output of one in-process ``harness`` call."""

    code: int
    output: str  # stdout and stderr
    user_error: bool  # a HarnessError was printed (``error: ...`` on stderr)


def run_cli(*args: str | os.PathLike[str]) -> CliOutcome:
    """Run ``harness ARGS`` in-process; asserts it ended as a user error or success, never an internal error."""
    from harness.cli import run

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run([str(a) for a in args])
    text = out.getvalue() + err.getvalue()
    assert "internal error" not in text and "Traceback" not in text, text[-2000:]
    assert code in (0, 1, 2), f"exit code {code}: {text[-2000:]}"
    return CliOutcome(code, text, err.getvalue().startswith("error:") or "\nerror:" in err.getvalue())


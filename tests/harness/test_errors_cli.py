"""User mistakes end as `error: ...` naming what is wrong and the fix, never as "internal error" (issue 15).

One table of bad invocations run through the real entry point: each asserts the exit code (2 for a bad
argument or path, 1 for bad data), words of the message, no internal error, and that every `--option`
the output names is an option of that command.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _good_rows(n: int = 12) -> str:
    return "".join(json.dumps({**GOOD, "id": str(i), "messages": [
        {"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}) + "\n"
        for i in range(n))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of hostile inputs shared by the table."""
    f = tmp_path / "in"
    f.mkdir()
    (f / "good.jsonl").write_text(_good_rows())
    (f / "surrogate.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "cut \\ud83d emoji"}, {"role": "assistant", "content": "x"}]}\n')
    (f / "utf16.jsonl").write_bytes((json.dumps(GOOD) + "\n").encode("utf-16"))
    (f / "preds.jsonl").write_text("".join(json.dumps({"id": str(i), "prediction": "a", "reference": "a"}) + "\n"
                                           for i in range(5)))
    (f / "a_folder").mkdir()
    (f / "a_file.txt").write_text("x")
    (f / "train_cfg_utf16.yaml").write_bytes("name: x\nbase_model: tiny\n".encode("utf-16"))
    (f / "train_cfg_latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (f / "train_missing_model.yaml").write_text(
        f"name: x\nbase_model: ./no-such-model\nmethod: lora\ntrain_file: {f / 'good.jsonl'}\nmax_steps: 1\n")
    (f / "suite_utf16.yaml").write_bytes("name: s\n".encode("utf-16"))
    for name, dataset, model in (("suite_missing_model", "good.jsonl", "./no-such-model"),
                                 ("suite_surrogate", "surrogate.jsonl", "./no-such-model"),
                                 ("suite_utf16_data", "utf16.jsonl", "./no-such-model")):
        (f / f"{name}.yaml").write_text(f"name: s\ndatasets: {{test: {f / dataset}}}\n"
                                        f"candidates:\n  - {{name: a, model: {model}}}\nmetrics: [exact_match]\n")
    (f / "schema_utf16.json").write_bytes(b'{"type": "object"}'.decode().encode("utf-16"))
    (f / "summary_utf16.json").write_bytes('{"variants": {}}'.encode("utf-16"))
    (f / "bad_settings").mkdir()
    (f / "bad_settings" / "settings.json").write_text('{"database_url": "not a url"}')
    return f


def _writable(path: Path) -> bool:
    probe = path / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """Make the existing folder ``path`` unwritable for the block (chmod; `chattr +i` when running as root)."""
    path.chmod(0o555)
    immutable = False
    if _writable(path):  # root ignores permissions
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
        if not immutable or _writable(path):
            if immutable:
                subprocess.run(["chattr", "-i", str(path)], check=True)
            path.chmod(0o755)
            pytest.skip("cannot make a read-only folder here")
    try:
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o755)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An existing empty folder nobody can write into."""
    path = tmp_path / "read-only"
    path.mkdir()
    with read_only(path):
        yield path


def _command_options(argv: list[str]) -> set[str]:
    """Every option name of the command ``argv`` invokes, plus the root's."""
    import typer

    from harness.cli import app

    command = typer.main.get_command(app)
    names = {opt for param in command.params for opt in param.opts}
    for arg in argv:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is not None:
            command = sub
            names |= {opt for param in command.params for opt in param.opts}
    return names


def _check(result, argv: list[str], code: int, words: list[str]) -> None:
    text = result.stderr + result.stdout
    assert "internal error" not in text and "Traceback" not in text, text
    assert result.exit_code == code, text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", text))
    assert named <= _command_options(argv) | {"--help"}, f"hint names options {named} the command lacks"


Case = tuple[str, Callable[[Path], list[str]], int, list[str]]
CASES: list[Case] = [
    # a lone surrogate escape in a data file
    ("validate surrogate", lambda f: ["data", "validate", f / "surrogate.jsonl", "--json"], 1, ["lone_surrogate"]),
    ("report surrogate", lambda f: ["data", "report", f / "surrogate.jsonl"], 0, ["0 examples, 1 unreadable line"]),
    ("split surrogate", lambda f: ["data", "split", f / "surrogate.jsonl", "--out", f / "split"], 1,
     ["lone_surrogate", "messages[0].content"]),
    ("eval surrogate dataset", lambda f: ["eval", f / "suite_surrogate.yaml"], 1,
     ["surrogate.jsonl:1", "lone surrogate"]),
    # UTF-16 files are named as UTF-16 (convert to UTF-8), not as binary
    ("validate utf16", lambda f: ["data", "validate", f / "utf16.jsonl"], 1, ["utf16_file", "UTF-16", "iconv"]),
    ("report utf16", lambda f: ["data", "report", f / "utf16.jsonl"], 1, ["UTF-16 little-endian", "iconv"]),
    ("eval utf16 dataset", lambda f: ["eval", f / "suite_utf16_data.yaml"], 1, ["utf16.jsonl:1", "UTF-16"]),
    ("suite utf16", lambda f: ["eval", f / "suite_utf16.yaml"], 2, ["suite file is UTF-16", "UTF-8"]),
    ("train config utf16", lambda f: ["train", f / "train_cfg_utf16.yaml"], 2, ["UTF-16", "UTF-8"]),
    ("train config latin1", lambda f: ["train", f / "train_cfg_latin1.yaml"], 2,
     ["train_cfg_latin1.yaml:1", "not valid UTF-8"]),
    ("score schema utf16", lambda f: ["score", f / "preds.jsonl", "-m", "json_schema", "--schema",
                                      f / "schema_utf16.json"], 2, ["schema_utf16.json", "UTF-16"]),
    ("ab summary utf16", lambda f: ["ab", "analyze", "--summary", f / "summary_utf16.json"], 2,
     ["summary_utf16.json", "UTF-16"]),
    # folders where files belong, files where folders belong
    ("train config folder", lambda f: ["train", f / "a_folder"], 2, ["a_folder: is a folder", "YAML file"]),
    ("ab plan summary folder", lambda f: ["ab", "plan", "--mde", "0.05", "--summary", f / "a_folder"], 2,
     ["a_folder: is a folder"]),
    ("ab analyze summary folder", lambda f: ["ab", "analyze", "--summary", f / "a_folder"], 2,
     ["a_folder: is a folder"]),
    ("ab plan config folder", lambda f: ["ab", "plan", "--mde", "0.05", "--config", f / "a_folder"], 2,
     ["a_folder: is a folder"]),
    ("score out is a file", lambda f: ["score", f / "preds.jsonl", "--out", f / "a_file.txt"], 2,
     ["--out", "a_file.txt", "is a file"]),
    ("init-tiny inside a file", lambda f: ["models", "init-tiny", f / "a_file.txt" / "tiny"], 2,
     ["a_file.txt", "folder"]),
    # a model path that does not exist is not a "Repo id" problem
    ("train missing model", lambda f: ["train", f / "train_missing_model.yaml"], 2,
     ["'./no-such-model'", "does not exist", "not a known alias or a hub id"]),
    ("eval missing model", lambda f: ["eval", f / "suite_missing_model.yaml"], 2,
     ["does not exist", "not a registered model, a known alias or a hub id", "harness models list"]),
    ("tokenizer missing", lambda f: ["data", "validate", f / "good.jsonl", "--max-tokens", "5",
                                     "--tokenizer", "/no/such/tokenizer"], 2, ["does not exist"]),
]


@pytest.mark.parametrize(("name", "argv", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_invocation_is_a_clear_error(cli, files, name, argv, code, words) -> None:
    args = [str(a) for a in argv(files)]
    _check(cli(*args), args, code, words)


def test_the_repo_id_message_is_gone(cli, files) -> None:
    result = cli("train", files / "train_missing_model.yaml")
    assert "Repo id" not in result.stderr


# --- the workspace database URL --------------------------------------------------------------------

@pytest.mark.parametrize(("url", "code", "words"), [
    ("not a url", 2, ["'not a url'", "HARNESS_DATABASE_URL", "is not a database URL", "sqlite:///"]),
    ("postgresql://user@:nope/db", 2, ["HARNESS_DATABASE_URL", "is not a database URL"]),  # a port that is no number
    ("mysql://user@host/db", 2, ["HARNESS_DATABASE_URL", "driver that is not installed"]),
    ("sqlite:////no/such/folder/h.db", 2, ["HARNESS_DATABASE_URL", "cannot open the workspace database"]),
])
@pytest.mark.parametrize("argv", [["ab", "list"], ["review", "list"], ["models", "show", "x"]])
def test_a_malformed_database_url_names_the_variable(cli, monkeypatch, url, code, words, argv) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", url)
    _check(cli(*argv), argv, code, words)


@pytest.mark.parametrize("url", ["not a url", "postgresql://user@:nope/db"])
def test_a_read_only_command_names_a_malformed_database_url(cli, monkeypatch, url) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", url)
    argv = ["models", "list"]
    _check(cli(*argv), argv, 2, ["HARNESS_DATABASE_URL", "is not a database URL"])


def test_a_bad_database_url_in_settings_names_the_file(cli, files) -> None:
    argv = ["--workspace", str(files / "bad_settings"), "models", "show", "x"]
    _check(cli(*argv), argv, 2, ["settings.json", "database_url", "is not a database URL"])


# --- read-only folders and workspaces ---------------------------------------------------------------

@pytest.mark.parametrize(("name", "argv", "words"), [
    ("write-valid", lambda f, ro: ["data", "validate", f / "good.jsonl", "--write-valid", ro / "v.jsonl"],
     ["cannot write in this folder", "make it writable"]),
    ("split", lambda f, ro: ["data", "split", f / "good.jsonl", "--out", ro], ["cannot write in this folder"]),
    ("score out", lambda f, ro: ["score", f / "preds.jsonl", "--out", ro / "scores"], ["cannot create it in"]),
    ("simulate out", lambda f, ro: ["ab", "simulate", "--out", ro / "e.csv", "--days", "1",
                                    "--units-per-day", "5"], ["cannot write in this folder"]),
    ("init-tiny", lambda f, ro: ["models", "init-tiny", ro / "tiny"], ["cannot create it in"]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_read_only_output_folder_is_named(cli, files, read_only_dir, name, argv, words) -> None:
    args = [str(a) for a in argv(files, read_only_dir)]
    _check(cli(*args), args, 2, words)


def test_a_read_only_workspace_is_named_with_the_fix(cli, files, read_only_dir) -> None:
    argv = ["--workspace", str(read_only_dir), "ab", "list"]
    _check(cli(*argv), argv, 2, [str(read_only_dir), "must be writable", "--workspace"])


def test_training_into_a_read_only_workspace_is_named(cli, files, read_only_dir, tiny_model_dir) -> None:
    config = files / "train.yaml"
    config.write_text(f"name: x\nbase_model: {tiny_model_dir}\nmethod: lora\ntrain_file: {files / 'good.jsonl'}\n"
                      "max_steps: 1\n")
    argv = ["--workspace", str(read_only_dir), "train", str(config)]
    _check(cli(*argv), argv, 2, [str(read_only_dir), "must be writable"])


# --- read-only commands create no workspace ---------------------------------------------------------

def test_models_list_on_a_missing_workspace_creates_nothing(cli, workspace_dir) -> None:
    result = cli("models", "list")
    assert result.exit_code == 0 and "no models registered yet" in result.stdout
    assert cli("models", "list", "--json").stdout.strip() == "[]"
    assert not workspace_dir.exists()


@pytest.mark.parametrize("argv", [
    lambda f: ["data", "report", f / "good.jsonl"],
    lambda f: ["ab", "plan", "--mde", "0.05", "--baseline", "0.3", "--units-per-day", "100"],
])
def test_read_only_commands_create_no_workspace(cli, files, workspace_dir, argv) -> None:
    result = cli(*[str(a) for a in argv(files)])
    assert result.exit_code == 0, result.stderr
    assert not workspace_dir.exists()


def test_models_list_reads_a_read_only_workspace(cli, tmp_path) -> None:
    # SQLite cannot open a WAL database in a folder where it cannot create its -shm file; nobody can
    # write there either, so the read-only open reads the file as immutable.
    from harness.store.models import ModelRecord, register_model
    from harness.workspace import Workspace

    root = tmp_path / "ws-ro"
    ws = Workspace.open(root)
    register_model(ws.engine, ModelRecord(name="m1", path=str(tmp_path), base_model="tiny", method="lora",
                                          adapter=True))
    ws.close()
    for leftover in root.glob("harness.db-*"):  # -wal/-shm/lock files of the writer, gone after a clean stop
        leftover.unlink()
    with read_only(root):
        result = cli("--workspace", str(root), "models", "list", "--json")
        assert result.exit_code == 0, result.stderr
        assert "m1" in result.stdout
        assert sorted(p.name for p in root.iterdir()) == ["harness.db"]


# --- the OSError mapping itself ----------------------------------------------------------------------

def test_os_errors_a_user_causes_become_harness_errors(tmp_path) -> None:
    import errno

    from harness.errors import from_os_error

    denied = from_os_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".out.jsonl.ab12.tmp")))
    assert denied is not None and denied.exit_code == 2
    assert denied.message.startswith(f"{tmp_path}: cannot write in this folder")
    folder = from_os_error(IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path / ".x.tmp"),
                                             None, str(tmp_path / "target")))
    assert folder is not None and folder.message == f"{tmp_path / 'target'}: is a folder, not a file"
    full = from_os_error(OSError(errno.ENOSPC, "No space left on device"))
    assert full is not None and full.exit_code == 1 and "disk space" in (full.hint or "")
    inside = from_os_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ws" / "runs")),
                           workspace=str(tmp_path / "ws"))
    assert inside is not None and "--workspace" in (inside.hint or "")


def test_os_errors_that_are_bugs_stay_internal(cli, monkeypatch) -> None:
    import errno

    from harness.errors import from_os_error

    assert from_os_error(FileNotFoundError(errno.ENOENT, "No such file", "/harness/own/file")) is None
    assert from_os_error(OSError(errno.EACCES, "Permission denied")) is None  # no path: nothing to name

    import harness.commands.models as models_cmd

    def broken(*_a, **_k):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/opt/harness/missing.json")

    monkeypatch.setattr(models_cmd, "_record_or_fail", broken)
    result = cli("models", "show", "x")
    assert result.exit_code == 1 and "internal error" in result.stderr

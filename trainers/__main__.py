"""``python -m trainers CONFIG.yaml [key=value ...] [--sweep k=a,b] [--workspace DIR] [--force] [--json]``.

The same as ``harness train``, for launchers that run a module, e.g.
``accelerate launch -m trainers CONFIG.yaml`` on GPUs or ``torchrun --nproc_per_node 2 -m trainers
CONFIG.yaml`` on CPUs (each process trains its shard of every batch; the main process saves and
registers the model). It parses its own arguments: the trainers package never imports the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainers", description="Train one candidate (or one per "
                                     "sweep value) and record it in the workspace model registry.")
    parser.add_argument("config", help="training config (YAML)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. lora.r=32 lr=1e-4")
    parser.add_argument("--sweep", action="append", default=[], help="train one candidate per value: lora.r=8,16")
    parser.add_argument("--workspace", "-w", default=None, help="workspace folder (default: $HARNESS_WORKSPACE "
                        "or ./harness-workspace)")
    parser.add_argument("--force", action="store_true", help="replace a registered model of the same name")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the resolved configs only")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, train, print one line (or JSON) per model; returns the exit code."""
    from harness.errors import HarnessError

    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        from harness.workspace import Workspace
        from trainers.api import summary_line, train
        from trainers.config import configs_from_file

        configs = configs_from_file(args.config, args.overrides, args.sweep)
        if args.dry_run:
            print(json.dumps([c.to_dict() for c in configs], indent=2))
            return 0
        workspace = Workspace.open(args.workspace)
        say = lambda message: print(message, file=sys.stderr)  # noqa: E731
        records = [train(config, workspace, overwrite=args.force, say=say) for config in configs]
    except HarnessError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    if os.environ.get("RANK", "0") != "0":  # under accelerate/torchrun only the main process reports
        return 0
    if args.json:
        data = [r.to_dict() for r in records]
        print(json.dumps(data if len(data) > 1 else data[0], indent=2, default=str))
    else:
        for record in records:
            print(summary_line(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

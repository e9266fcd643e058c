"""``harness ab replay``: send an eval set's queries through an A/B gateway as simulated users."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption, console, print_json


def replay(
    target: Annotated[str, typer.Argument(help="Gateway URL (http://127.0.0.1:8700), or a gateway config YAML "
                                          "to serve in this process for the replay.")],
    eval_set: Annotated[str, typer.Option("--set", help="Bundled eval set (extract) or a chat JSONL file.")] = "extract",
    split: Annotated[str, typer.Option("--split", help="Split of a bundled set.")] = "test",
    users: Annotated[int, typer.Option("--users", help="Simulated users (units).")] = 20,
    requests_per_user: Annotated[int, typer.Option("--requests-per-user", help="Requests per user.")] = 3,
    days: Annotated[float, typer.Option("--days", help="Simulated days the requests are spread over.")] = 7.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of users, queries and times.")] = 0,
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome name of the verdict (0/1) in the feedback.")]
    = "resolved",
    concurrency: Annotated[int, typer.Option("--concurrency", help="Users sending at the same time.")] = 8,
    model: Annotated[str, typer.Option("--model", help="The request's model field.")] = "default",
    api_key_env: Annotated[str | None, typer.Option("--api-key-env",
                                                    help="Environment variable holding the gateway's API key.")] = None,
    no_system: Annotated[bool, typer.Option("--no-system", help="Drop the set's system messages (when the "
                                            "gateway config adds its own prompt).")] = False,
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replay eval-set queries through a gateway, judge each answer against its reference, post the feedback.

    Then analyse with: harness ab analyze --experiment NAME --metric OUTCOME:mean
    """
    from harness.ab.replay import ReplayConfig, load_queries
    from harness.ab.replay import replay as run_replay
    from harness.errors import ConfigError

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError(f"--api-key-env {api_key_env}: the environment variable is not set",
                              hint=f"export {api_key_env}=... (the key the gateway expects)")
    config = ReplayConfig(users=users, requests_per_user=requests_per_user, days=days, seed=seed, outcome=outcome,
                          concurrency=concurrency, model=model, api_key=api_key)
    queries = load_queries(eval_set, split, system=not no_system)
    if target.startswith(("http://", "https://")):
        summary = run_replay(target, queries, config)
    else:
        from harness.ab.replay import serve_in_thread
        from harness.commands._common import open_workspace

        with serve_in_thread(Path(target), open_workspace(workspace)) as url:
            summary = run_replay(url, queries, config)
    if json_out:
        print_json(summary.to_dict())
        return
    out = console()
    out.print(f"{summary.requests:,} requests, {summary.answered:,} answered, {summary.errors:,} errors, "
              f"{summary.feedback:,} feedback posted")
    for name, row in summary.to_dict()["variants"].items():
        acc = row["accuracy"]
        out.print(f"  {name}: {row['requests']:,} answered, {row['correct']:,} judged correct"
                  + (f" ({acc:.1%})" if acc is not None else ""))
    for msg in summary.error_messages[:3]:
        out.print(f"  [yellow]{msg}[/]")

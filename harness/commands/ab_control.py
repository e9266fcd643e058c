"""``harness ab start|stop|weights|kill|status``: control a running experiment without restarting its gateway.

The commands are plain functions; :mod:`harness.commands.ab` registers them on its ``app``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from harness.commands._common import JsonOption, WorkspaceOption, console, open_workspace, print_json

NameArg = Annotated[str, typer.Argument(help="Experiment name in the workspace store.")]


def start(name: NameArg, workspace: WorkspaceOption = None, json_out: JsonOption = False) -> None:
    """Start (or resume) an experiment: the gateway splits traffic by its weights again."""
    from harness.ab.control import start as _start

    _show(_start(open_workspace(workspace).engine, name), json_out)


def stop(name: NameArg, workspace: WorkspaceOption = None, json_out: JsonOption = False) -> None:
    """Stop an experiment: all traffic goes to the control and no exposures are recorded."""
    from harness.ab.control import stop as _stop

    _show(_stop(open_workspace(workspace).engine, name), json_out)


def weights(
    name: NameArg,
    split: Annotated[str, typer.Argument(help="NAME=SHARE,...: absolute shares of all units (sum <= 1; the rest "
                                         "is not enrolled), e.g. base=0.5,candidate=0.5. Unnamed variants keep theirs.")],
    force: Annotated[bool, typer.Option("--force", help="Apply a change that moves assigned units to another "
                                        "variant (e.g. 90/10 -> 50/50).")] = False,
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Change the traffic weights of an experiment (sticky: ramp-ups only enroll new units)."""
    from harness.ab.control import set_weights

    _show(set_weights(open_workspace(workspace).engine, name, parse_split(split), force=force), json_out)


def kill(
    name: NameArg,
    off: Annotated[bool, typer.Option("--off", help="Turn the kill switch off again.")] = False,
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Kill switch: send all traffic of an experiment to the control at once (--off to undo)."""
    from harness.ab.control import kill as _kill

    _show(_kill(open_workspace(workspace).engine, name, on=not off), json_out)


def status(name: NameArg, workspace: WorkspaceOption = None, json_out: JsonOption = False) -> None:
    """Show an experiment's status, weights, kill switch and salt."""
    from harness.ab.control import experiment_state

    _show(experiment_state(open_workspace(workspace).engine, name), json_out)


def parse_split(text: str) -> dict[str, float]:
    """Parse ``base=0.5,candidate=0.5`` into a weights mapping (a ConfigError names the bad part)."""
    from harness.errors import ConfigError

    out: dict[str, float] = {}
    for part in text.split(","):
        variant, sep, value = part.partition("=")
        try:
            if not sep or not variant.strip():
                raise ValueError
            out[variant.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"weights {text!r}: {part!r} is not NAME=SHARE",
                              hint="e.g. harness ab weights NAME base=0.5,candidate=0.5") from None
    return out


def state_dict(state: Any) -> dict[str, Any]:
    """Return the ``--json`` object of an experiment state."""
    from dataclasses import asdict

    return {**asdict(state), "variants": list(state.variants), "active": state.active}


def _show(state: Any, json_out: bool) -> None:
    if json_out:
        print_json(state_dict(state))
        return
    split = ", ".join(f"{k}={w:g}" for k, w in state.weights.items())
    enrolled = sum(state.weights.values())
    routing = ("splitting traffic" if state.active
               else "all traffic to the control " + ("(kill switch on)" if state.kill_switch else "(stopped)"))
    console().print(f"experiment {state.name!r}: {state.status}, kill switch {'on' if state.kill_switch else 'off'}"
                    f" - {routing}\n  weights {split} ({enrolled:.0%} of units enrolled), control {state.control}")

"""`ptocheck replay ARTIFACT`: strict re-execution of a saved counterexample."""

from __future__ import annotations

import argparse
from pathlib import Path

from fuzz.scenario_args import scaled_constants_text
from model.errors import ScenarioError
from model.scenario import RUNTIMES
from properties.artifacts import load_artifact
from properties.replay import replay_model_artifact, replay_port_artifact

EXIT_OK, EXIT_VIOLATION = 0, 1


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.artifact)
    artifact = load_artifact(path)
    if args.runtime is not None and artifact.scenario.runtime != args.runtime:
        # an artifact is one exact run: it cannot be moved to another runtime, only re-found there
        raise ScenarioError(
            f"{path} records a run of {artifact.scenario.runtime}, not of {args.runtime}",
            "--runtime",
            f"drop --runtime, or find a {args.runtime} counterexample with `ptocheck fuzz --runtime {args.runtime}`",
        )
    command = f"ptocheck replay {path}"
    if artifact.kind == "model-path":
        outcome = replay_model_artifact(artifact, command)
    else:
        outcome = replay_port_artifact(artifact, command, full_trace=args.full)
    if artifact.finding:
        print(f"registered finding: {artifact.finding}")
    if scaled := scaled_constants_text(artifact.scenario):
        print(f"scaled constants: {scaled}")
    print(outcome.report, end="")
    return EXIT_VIOLATION if outcome.reproduced else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help="re-execute a saved counterexample artifact exactly")
    p.add_argument("artifact", help="an artifact JSON file written by ptocheck")
    p.add_argument("--full", action="store_true", help="port runs: print every step, not only the last ones")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="insist that the artifact is a run of this runtime (an artifact replays on the runtime it recorded)",
    )
    p.set_defaults(func=cmd_replay)

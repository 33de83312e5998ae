"""`ptocheck minimize ARTIFACT`: a smaller artifact with the same failure signature, checked by strict replay."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fuzz.minimize import DEFAULT_MINIMIZE_SECONDS, MODEL_MAX_STATES, minimize
from model.errors import PtocheckError
from properties.artifacts import load_artifact, save_artifact
from properties.replay import replay_model_artifact, replay_port_artifact


def default_output(path: Path) -> Path:
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    return path.with_name(f"{stem}.min.json")


def cmd_minimize(args: argparse.Namespace) -> int:
    path = Path(args.artifact)
    artifact = load_artifact(path)
    if args.max_seconds <= 0:
        raise PtocheckError(f"--max-seconds must be positive, got {args.max_seconds}", "--max-seconds")
    out = Path(args.output) if args.output else default_output(path)
    sig = " / ".join(artifact.signature.as_list())
    print(f"minimizing {path} ({artifact.kind}; signature {sig})")
    log = None if args.quiet else (lambda line: print(line, flush=True))
    if args.max_candidates is not None and args.max_candidates < 1:
        raise PtocheckError(f"--max-candidates must be >= 1, got {args.max_candidates}", "--max-candidates")
    result = minimize(
        artifact,
        seconds=args.max_seconds,
        max_states=args.max_states,
        source=str(path),
        log=log,
        max_attempts=args.max_candidates,
    )
    save_artifact(out, result.minimized)
    command = f"ptocheck replay {out}"
    if result.minimized.kind == "model-path":
        outcome = replay_model_artifact(result.minimized, command)
    else:
        outcome = replay_port_artifact(result.minimized, command)
    if not outcome.reproduced:  # the search only keeps candidates that fail this way: a tool bug
        raise PtocheckError("the minimized artifact does not reproduce under strict replay", str(out), "report this")
    budget = " (budget reached)" if result.stopped_by_budget else ""
    print(f"before: {result.before.text()}")
    print(f"after:  {result.after.text()}")
    print(f"{result.attempts} candidates tried, {result.accepted} kept, {result.seconds:.1f}s{budget}")
    print(f"wrote {out}; it replays strictly with the same signature")
    print(f"replay: {command}")
    sys.stdout.flush()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "minimize",
        help="shrink an artifact (tasks, scopes, edges, steps, preemptions) keeping its failure signature",
    )
    p.add_argument("artifact", help="an artifact JSON file written by ptocheck")
    p.add_argument("-o", "--output", help="where to write the smaller artifact (default: ARTIFACT.min.json)")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_MINIMIZE_SECONDS,
        help=f"time budget of the search (default {DEFAULT_MINIMIZE_SECONDS:.0f}s)",
    )
    p.add_argument(
        "--max-candidates",
        type=int,
        default=None,
        help="also stop after trying this many candidates (a budget independent of the machine's speed)",
    )
    p.add_argument(
        "--max-states",
        type=int,
        default=MODEL_MAX_STATES,
        help=f"model paths: state bound of each candidate's search (default {MODEL_MAX_STATES:,})",
    )
    p.add_argument("--quiet", action="store_true", help="do not print each accepted reduction")
    p.set_defaults(func=cmd_minimize)

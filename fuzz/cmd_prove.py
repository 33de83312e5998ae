"""`ptocheck prove`: the Z3 proofs of the flow-control and recycled-slot invariants (properties/smt).

Prints one row per verification condition: invariant, method (induction step / implication / BMC /
sanity), result (Proved, Counterexample, Unknown, Witnessed, Vacuous) and CPU time, then the
assumptions each proof rests on. Registered findings, refuted spec claims and caught mutants are
expected counterexamples and say so. Exit 1 when any row differs from its expectation (an unexpected
counterexample, an Unknown, a mutant that is not caught, a vacuous step, a counterexample that
the executable model does not reproduce when replayed); 0 otherwise.

z3 is imported only when the command runs (properties.smt imports it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from model.errors import PtocheckError

EXIT_OK, EXIT_VIOLATION = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prove", help="Z3 proofs of the ring-window, heap, pool, queue and refcount invariants")
    p.add_argument(
        "--section",
        action="append",
        choices=["proof", "sanity", "limit", "mutant", "bound"],
        help="run only these sections (repeatable; default: all)",
    )
    p.add_argument("--system", action="append", help="restrict the proof and sanity sections to this system (repeatable)")
    p.add_argument("--rlimit", type=int, default=None, help="z3 resource limit per check (default 40,000,000)")
    p.add_argument("--seed", type=int, default=0, help="z3 random seed (default 0)")
    p.add_argument("--json", action="store_true", help="one JSON object per row")
    p.add_argument("--failures-only", action="store_true", help="print only rows whose result is not the expected one")
    p.add_argument(
        "--summary",
        action="store_true",
        help="one row per invariant: its initiation and every per-action consecution check folded together",
    )
    p.set_defaults(func=cmd_prove)


def _result_text(row: Any) -> str:
    text = str(row.result)
    if row.replay_failed:
        return f"{text} -- NOT REPRODUCED by the model"
    if row.ok and row.expect.finding:
        return f"{text} (finding {row.expect.finding})"
    if row.ok and row.section == "mutant":
        return f"{text} (mutant caught)"
    if row.ok and row.section == "bound" and row.result == "Counterexample":
        return f"{text} (expected: {row.expect.note})"
    if not row.ok:
        return f"{text} -- expected {row.expect.result}"
    return text


def cmd_prove(args: argparse.Namespace) -> int:
    if args.rlimit is not None and args.rlimit < 1000:
        raise PtocheckError(f"--rlimit {args.rlimit} is too small to decide anything", "prove", "use at least 1000000")
    if args.seed < 0:
        raise PtocheckError(f"--seed must be >= 0, got {args.seed}", "prove")
    from properties.smt import core, suite  # z3 is loaded here, not at CLI start-up

    known = {s.name for s, _ in suite.proof_systems()} | {s.name for s in suite.sanity_systems()}
    for name in args.system or ():
        if name not in known:
            raise PtocheckError(f"no system named {name!r}", "prove --system", "choose from " + ", ".join(sorted(known)))
    opts = suite.Options(
        sections=tuple(args.section) if args.section else suite.SECTIONS,
        rlimit=args.rlimit or core.DEFAULT_RLIMIT,
        seed=args.seed,
        systems=tuple(args.system or ()),
    )
    started = time.process_time()
    worst = EXIT_OK
    counts: dict[str, int] = {}
    used_systems: dict[str, tuple[str, ...]] = {}
    if not args.json:
        print(f"{'invariant':78s} {'method':42s} {'result':44s} {'time':>7s}")
    source = suite.rows(opts)
    if args.summary:
        source = _folded(source)
    for row in source:
        counts[row.result] = counts.get(row.result, 0) + 1
        if not row.ok:
            worst = EXIT_VIOLATION
        system = row.system or row.invariant.split(":")[0]
        if row.assumptions:
            used_systems.setdefault(system, row.assumptions)
        if args.failures_only and row.ok:
            continue
        if args.json:
            doc: dict[str, Any] = {
                "section": row.section,
                "invariant": row.invariant,
                "spec": row.spec,
                "method": row.method,
                "result": row.result,
                "expected": row.expect.result,
                "finding": row.expect.finding,
                "ok": row.ok,
                "seconds": round(row.seconds, 3),
                "rlimit": row.rlimit,
                "detail": row.detail,
                "replay": row.replay,
                "replay_failed": row.replay_failed,
                "assumptions": list(row.assumptions),
            }
            if row.counterexample is not None:
                doc["counterexample"] = row.counterexample.to_json()
            print(json.dumps(doc, sort_keys=True))
            continue
        print(f"{row.invariant[:78]:78s} {row.method[:42]:42s} {_result_text(row)[:44]:44s} {row.seconds:6.2f}s")
        if row.detail and (row.section in ("bound", "limit") or not row.ok):
            print(f"    {row.detail}")
        if row.replay:
            print(f"    replay: {row.replay}")
        if row.counterexample is not None and (not row.ok or row.section in ("limit", "mutant")):
            ce = row.counterexample
            print(f"    counterexample: consts {ce.consts} pre {_scalars(ce.pre)} params {ce.params}")
    total = time.process_time() - started
    if not args.json:
        print()
        print("assumptions:")
        for system, texts in sorted(used_systems.items()):
            for text in texts:
                print(f"  {system}: {text}")
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        verdict = "all as expected" if worst == EXIT_OK else "SOME ROWS DIFFER FROM THEIR EXPECTATION"
        print(f"\n{summary}; {verdict}; {total:.1f}s CPU (rlimit {opts.rlimit} per check, seed {opts.seed})")
    sys.stdout.flush()
    return worst


def _scalars(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not isinstance(v, dict)}


def _folded(rows: Any) -> Any:
    """Fold the per-action checks of one invariant (same section, label and method family) into one row:
    method 'induction: init + N steps' / 'step property: N actions', result the common one, time summed.
    A group whose rows disagree is not folded."""
    import dataclasses

    pending: list[Any] = []

    def family(row: Any) -> str:
        return str(row.method).split(":")[0] if str(row.method).startswith(("induction:", "step property:")) else str(row.method)

    def flush() -> Any:
        if not pending:
            return
        same = len({(r.result, r.ok, r.expect) for r in pending}) == 1
        if len(pending) == 1 or not same:
            yield from pending
        else:
            first = pending[0]
            steps = [r.method.split(": ", 1)[1] for r in pending]
            if family(first) == "induction":
                n = len([x for x in steps if x != "init"])
                method = f"induction: {'init + ' if 'init' in steps else ''}{n} steps"
            else:
                method = f"step property: {len(steps)} actions"
            yield dataclasses.replace(
                first, method=method, seconds=sum(r.seconds for r in pending), rlimit=sum(r.rlimit for r in pending)
            )
        pending.clear()

    for row in rows:
        if pending and (row.invariant, family(row), row.section) != (pending[0].invariant, family(pending[0]), pending[0].section):
            yield from flush()
        pending.append(row)
    yield from flush()

"""`ptocheck drift SIMPLER_CHECKOUT`: which C++ functions the port cites changed since the pinned commit.

For every (file, function) in `runtime.trb.cites.cited_functions()`, the function's definition(s) are cut
out of the pinned commit's file (read with git, from the checkout itself or from a local mirror) and out
of the checkout's working tree, compared after removing comments and collapsing whitespace, and listed
when they differ (or when the file or the function is gone). Engineers see which parts of the port a
change of theirs touches; exit 0 either way (with --check: exit 1 when something drifted).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model.errors import PtocheckError
from runtime.core import PINNED_COMMIT
from runtime.trb.cites import TRB, cited_functions

EXIT_OK, EXIT_DRIFT = 0, 1
DEFAULT_MIRROR = Path("/work/.mirror/hw-native-sys+simpler/repo")
_QUALIFIERS = ("const", "noexcept", "override", "final", "volatile", "&", "&&", "mutable")


# ---------------------------------------------------------------------- C++ text helpers


_COMMENT_OR_LITERAL = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_BRACKETS = {"(": re.compile(r"[()]"), "{": re.compile(r"[{}]")}


def _blank(m: re.Match[str]) -> str:
    text = m.group(0)
    if text[0] in "\"'":
        return text[0] + re.sub(r"[^\n]", " ", text[1:-1]) + text[-1]
    return re.sub(r"[^\n]", " ", text)


def strip_comments(text: str) -> str:
    """Blank out // and /* */ comments and string/char literals (keeping offsets and newlines)."""
    return _COMMENT_OR_LITERAL.sub(_blank, text)


def _match_close(text: str, i: int, open_ch: str, close_ch: str) -> int:
    """Index just past the bracket that closes the one at text[i] (or -1)."""
    depth = 0
    for m in _BRACKETS[open_ch].finditer(text, i):
        if m.group(0) == open_ch:
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def function_bodies(text: str, function: str, clean: str | None = None) -> list[str]:
    """Every definition of `function` in C++ source `text` (comments removed): signature tail + body.

    `function` is `name` or `Qualifier::name`; a qualified name must appear qualified at the definition.
    A definition is `name(params) [qualifiers] {body}`; calls (`x.name(`, `name(a);`, `if (name(a))`) do not
    match because no `{` follows their argument list.
    """
    if clean is None:
        clean = strip_comments(text)
    name = function.split("::")[-1]
    prefix = re.escape(function) if "::" in function else r"(?<![\w.>])" + re.escape(name)
    pattern = re.compile(prefix + r"\s*\(")
    bodies: list[str] = []
    for m in pattern.finditer(clean):
        start = m.start()
        before = clean[max(0, start - 2) : start]
        if "::" not in function and (before.endswith(".") or before.endswith("->") or before.endswith("::")):
            continue
        paren = clean.index("(", m.start())
        close = _match_close(clean, paren, "(", ")")
        if close < 0:
            continue
        j = close
        while True:
            while j < len(clean) and clean[j].isspace():
                j += 1
            word = next((q for q in _QUALIFIERS if clean.startswith(q, j)), None)
            if word is not None:
                j += len(word)
                continue
            if clean.startswith("->", j):  # trailing return type
                k = clean.find("{", j)
                if k < 0:
                    break
                j = k
            break
        if j >= len(clean) or clean[j] != "{":
            continue
        end = _match_close(clean, j, "{", "}")
        if end < 0:
            continue
        bodies.append(clean[start:end])
    return bodies


def normalize(bodies: list[str]) -> str:
    return "\n".join(" ".join(b.split()) for b in bodies)


# ---------------------------------------------------------------------- sources


def git_show(repo: Path, commit: str, path: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), "show", f"{commit}:{path}"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", errors="replace")


def pinned_reader(checkout: Path, mirror: Path | None) -> tuple[Callable[[str], str | None], str]:
    """A reader of pinned-commit files: the checkout's own git if it has the commit, else the mirror."""
    probe = f"{TRB}runtime/pto_orchestrator.cpp"
    candidates = [checkout] + ([mirror] if mirror is not None else [])
    for repo in candidates:
        if git_show(repo, PINNED_COMMIT, probe) is not None:
            return (lambda path, repo=repo: git_show(repo, PINNED_COMMIT, path)), str(repo)
    raise PtocheckError(
        f"cannot read the pinned commit {PINNED_COMMIT[:12]} (not in the checkout's git history"
        + (f" nor in {mirror}" if mirror is not None else "")
        + ")",
        str(checkout),
        "fetch the commit into the checkout (git fetch origin "
        f"{PINNED_COMMIT}) or point PTOCHECK_SIMPLER_MIRROR at a clone that has it",
    )


@dataclass(frozen=True)
class Drift:
    status: str  # "changed", "missing-file", "missing-function", "unchanged"
    file: str
    function: str


def drift_report(checkout: Path, read_pinned: Callable[[str], str | None]) -> list[Drift]:
    out: list[Drift] = []
    cache_old: dict[str, str | None] = {}
    cache_new: dict[str, str | None] = {}
    for cite in cited_functions():
        if cite.file not in cache_old:
            text = read_pinned(cite.file)
            cache_old[cite.file] = None if text is None else strip_comments(text)
            p = checkout / cite.file
            cache_new[cite.file] = (
                strip_comments(p.read_text(encoding="utf-8", errors="replace")) if p.is_file() else None
            )
        old, new = cache_old[cite.file], cache_new[cite.file]
        if old is None:
            raise PtocheckError(
                f"the pinned commit has no file {cite.file}", "citations", "the citation table is out of date"
            )
        old_bodies = function_bodies(old, cite.function, old)
        if not old_bodies:
            raise PtocheckError(
                f"the pinned {cite.file} has no definition of {cite.function}",
                "citations",
                "the citation table is out of date",
            )
        if new is None:
            out.append(Drift("missing-file", cite.file, cite.function))
            continue
        new_bodies = function_bodies(new, cite.function, new)
        if not new_bodies:
            out.append(Drift("missing-function", cite.file, cite.function))
        elif normalize(new_bodies) != normalize(old_bodies):
            out.append(Drift("changed", cite.file, cite.function))
        else:
            out.append(Drift("unchanged", cite.file, cite.function))
    return out


def check_checkout(path: Path) -> Path:
    if not path.is_dir():
        raise PtocheckError(f"{path} is not a directory", "SIMPLER_CHECKOUT", "pass the root of a simpler checkout")
    if not (path / TRB).is_dir():
        raise PtocheckError(
            f"{path} is not a hw-native-sys/simpler checkout (no {TRB})",
            "SIMPLER_CHECKOUT",
            "pass the repository root, the directory that contains src/",
        )
    return path


def cmd_drift(args: argparse.Namespace) -> int:
    checkout = check_checkout(Path(args.checkout))
    mirror_env = os.environ.get("PTOCHECK_SIMPLER_MIRROR")
    mirror = Path(mirror_env) if mirror_env else (DEFAULT_MIRROR if DEFAULT_MIRROR.exists() else None)
    reader, source = pinned_reader(checkout, mirror)
    report = drift_report(checkout, reader)
    drifted = [d for d in report if d.status != "unchanged"]
    print(f"pinned commit {PINNED_COMMIT} (read from {source}) vs working tree {checkout}")
    for d in drifted:
        print(f"{d.status:16s} {d.function}  ({d.file})")
    print(f"{len(drifted)} of {len(report)} cited functions differ")
    return EXIT_DRIFT if drifted and args.check else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("drift", help="list the C++ functions the port cites that changed since the pinned commit")
    p.add_argument("checkout", help="root of a hw-native-sys/simpler checkout")
    p.add_argument("--check", action="store_true", help="exit 1 when a cited function drifted")
    p.set_defaults(func=cmd_drift)

"""The layering: fuzz -> properties -> runtime, model. runtime uses only model.scenario and model.errors
(it must not share logic with the model), and model and runtime import neither hypothesis nor z3."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "model": {"model"},
    "runtime": {"runtime", "model.scenario", "model.errors"},
    "properties": {"properties", "model", "runtime"},
    "fuzz": {"fuzz", "properties", "model", "runtime"},
}
FORBIDDEN_EXTERNAL = {"model": {"hypothesis", "z3"}, "runtime": {"hypothesis", "z3"}}
PROJECT = set(ALLOWED)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out.extend(f"{node.module}.{a.name}" for a in node.names if node.module in PROJECT)
    return out


def _allowed(layer: str, name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in ALLOWED[layer])


def test_layering() -> None:
    problems = []
    for layer in ALLOWED:
        for path in sorted((ROOT / layer).rglob("*.py")):
            for name in _imports(path):
                top = name.split(".")[0]
                if top in PROJECT and not _allowed(layer, name):
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
                if top in FORBIDDEN_EXTERNAL.get(layer, set()):
                    problems.append(f"{path.relative_to(ROOT)} imports {top}")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from model.trb_model import TrbModel\nimport z3\n", encoding="utf-8")
    names = _imports(probe)
    assert "model.trb_model" in names and "z3" in names
    assert not _allowed("runtime", "model.trb_model") and _allowed("runtime", "model.scenario")

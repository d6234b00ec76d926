"""The house: each stage package imports only the stages before it (data flows one way)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stemlayers"

#: The stages in the order data flows through them; a module may import its own stage and earlier ones.
ORDER = ["errors", "numeric", "materials", "io", "columns", "simulate", "structure", "verdict", "series", "report",
         "samples", "datasets", "runner", "batch", "cli_tables", "cli", "__main__", "__init__"]


def stage_of(module: str) -> str:
    return module.split(".")[0]


def imported_stages(path: Path):
    """(stage, line) of every stemlayers module `path` imports (relative or absolute)."""
    module = path.relative_to(SRC).with_suffix("").parts
    package = module[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[:len(package) - (node.level - 1)])
            target = base + (node.module.split(".") if node.module else [])
            if not target:  # from . import x at the top: x is a stage
                for alias in node.names:
                    yield alias.name, node.lineno
            else:
                yield target[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stemlayers."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stemlayers."):
                    yield alias.name.split(".")[1], node.lineno


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_a_stage_imports_only_the_stages_before_it(path):
    own = stage_of(".".join(path.relative_to(SRC).with_suffix("").parts))
    assert own in ORDER, f"{own} is not a known stage"
    later = [(stage, line) for stage, line in imported_stages(path)
             if stage != "__version__" and stage in ORDER and ORDER.index(stage) > ORDER.index(own)]
    assert not later, f"{path.relative_to(SRC)} imports later stages: {later}"


def test_every_module_belongs_to_a_stage():
    stages = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in MODULES}
    assert stages <= set(ORDER), stages - set(ORDER)

"""The house rules of the import graph, checked on the source: arrows point one way.

- no import cycles among genplay's modules (imports inside functions count; imports under
  ``if TYPE_CHECKING:`` do not, they never run);
- ``envs/`` imports nothing from ``gail/`` or ``generative/``; ``generative/`` nothing from
  ``gail/`` or ``envs/`` (the core is the bottom of the graph);
- no library function in ``gail/`` takes an argparse ``Namespace`` (the CLI turns flags into
  configs; libraries take configs);
- no constructor in ``gail/`` or ``generative/`` changes torch's global state (threads, seeds).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"genplay": "genplay", "genplay.gail": "gail", "genplay.generative": "generative", "genplay.envs": "envs"}
GLOBAL_TORCH_STATE = {"manual_seed", "set_num_threads", "set_torch_threads", "seed_everything", "set_random_seed"}


def _modules() -> dict[str, Path]:
    mods = {}
    for package, folder in PACKAGES.items():
        files = (ROOT / folder).glob("*.py") if package == "genplay" else (ROOT / folder).rglob("*.py")
        for path in files:
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            mods[".".join([package, *parts])] = path
    return mods


MODULES = _modules()


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


GRAPH = {m: {n for n in _imports(p) if n in MODULES and n != m} for m, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert len(MODULES) > 100
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("genplay.envs", ("genplay.gail", "genplay.generative")),
        ("genplay.generative", ("genplay.gail", "genplay.envs")),
    ],
)
def test_arrows_point_toward_the_core(package, forbidden):
    wrong = sorted(
        f"{m} -> {n}"
        for m, targets in GRAPH.items()
        if m.startswith(package)
        for n in targets
        if n.startswith(forbidden)
    )
    assert wrong == []


def test_no_library_function_takes_a_namespace():
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("genplay.gail"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs + node.args.posonlyargs
                if any(a.annotation is not None and "Namespace" in ast.unparse(a.annotation) for a in args):
                    wrong.append(f"{module}.{node.name}")
        assert "import argparse" not in path.read_text(), module
    assert wrong == []


def test_constructors_leave_global_torch_state_alone():
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith(("genplay.gail", "genplay.generative")):
            continue
        for cls in ast.walk(ast.parse(path.read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "__init__"):
                    continue
                for call in ast.walk(fn):
                    if not isinstance(call, ast.Call):
                        continue
                    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                    owner = ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else ""
                    if name in GLOBAL_TORCH_STATE and owner in ("", "torch", "torch.random"):
                        wrong.append(f"{module}.{cls.name}.__init__: {ast.unparse(call.func)}")
    assert wrong == []

"""The code's shape, read from the source with `ast` (nothing is imported or run):

(a) the arrows: ranking <- indexer <- query <- recommender <- api; nothing imports api;
(b) SQL lives only in the store modules (indexer/stores/);
(c) no import loops between modules.

Every import counts wherever it sits: at module level, inside a function, or under
`if TYPE_CHECKING:`. An import moved into a function only hides a loop from Python's import
machinery at start-up; the two modules still need each other, so for (a) and (c) a function-level
import is an edge like any other. Importing a submodule is an edge to that module only, not to the
packages above it (whose `__init__` Python runs first, but which depend on nothing of it).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ranking", "indexer", "query", "recommender", "api")
# What each package may import besides itself; `api` is imported by nothing.
ALLOWED = {
    "ranking": set(),
    "indexer": {"ranking"},
    "query": {"indexer", "ranking"},
    "recommender": {"query", "indexer", "ranking"},
    "api": {"recommender", "query", "indexer", "ranking"},
}
STORES = "indexer.stores"
SQL_CALLS = {"execute", "executemany", "executescript"}
CREATE_TABLE = re.compile(r"\bCREATE\s+(VIRTUAL\s+)?TABLE\b", re.IGNORECASE)



def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of our packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _package_of(module: str) -> str:
    return module.split(".")[0]


def _imported(name: str, tree: ast.Module) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the module, at any depth. `from a.b import c` names
    the module a.b.c when c is one, else a.b; names outside our packages are kept as written."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if MODULES[name].name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.append((full if full in MODULES else module, node.lineno))
    return out


def _ours(imported: str) -> str | None:
    """The module of ours that an import names (its nearest existing parent), or None."""
    while imported and imported not in MODULES:
        imported = imported.rpartition(".")[0]
    return imported or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, tree in TREES.items():
        for imported, _ in _imported(name, tree):
            target = _ours(imported)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def _loops(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    for root in sorted(graph):
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
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


def test_the_walker_sees_every_package():
    assert {_package_of(m) for m in MODULES} == set(PACKAGES)
    assert "indexer.stores.catalog" in MODULES and "api.app" in MODULES


def test_imports_follow_the_arrows():
    wrong = []
    for name, tree in TREES.items():
        package = _package_of(name)
        for imported, line in _imported(name, tree):
            target = _ours(imported)
            if target is None:
                continue
            other = _package_of(target)
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {target} ({package} -> {other})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_nothing_imports_api():
    users = [name for name, targets in _graph().items() if _package_of(name) != "api"
             and any(_package_of(t) == "api" for t in targets)]
    assert not users


def _sql_in(tree: ast.Module) -> list[str]:
    """Where a module runs SQL: calls of execute/executemany/executescript, strings with CREATE TABLE."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            out.append(f"{node.lineno} calls .{node.func.attr}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and CREATE_TABLE.search(node.value):
            out.append(f"{node.lineno} holds a CREATE TABLE")
    return out


def test_sql_only_in_the_stores():
    """No module outside indexer/stores/ calls execute/executemany/executescript or holds a CREATE TABLE."""
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{where}" for name, tree in TREES.items()
             if not (name == STORES or name.startswith(STORES + ".")) for where in _sql_in(tree)]
    assert not wrong, "SQL outside indexer/stores/ (move it behind a store method):\n" + "\n".join(wrong)


def test_the_checks_catch_what_they_look_for():
    """The SQL check and the loop finder on made-up code: they are not vacuous."""
    code = "def f(db):\n    print(db)\n    db.execute('SELECT 1')\nSCHEMA = 'create table if not exists t (x)'\n"
    assert sorted(_sql_in(ast.parse(code))) == ["3 calls .execute()", "4 holds a CREATE TABLE"]
    assert _loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _loops({"a": {"b"}, "b": set()}) == []


def test_no_import_loops():
    """No import loops at all (the three issue 14 found are gone)."""
    new = _loops(_graph())
    assert not new, "import loops: " + "; ".join(" <-> ".join(sorted(loop)) for loop in new)

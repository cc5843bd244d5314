"""The dependency rules of docs/ARCHITECTURE.md, checked on the source with the standard library's `ast`.

Rules (every import counts: module level, inside functions and under `if TYPE_CHECKING:`):
- no import cycle among engine/ modules;
- nothing in engine/ imports nicegui or ui;
- dependencies point one way: `engine.runtime` imports only config and store at run time (the types of the parts
  it holds under TYPE_CHECKING only), and only the entry points (`engine.app`, `engine.commands`, `engine.bench`)
  import the composition root `engine.app` or the `engine.worker` above it;
- nothing in ui/ imports sqlmodel, sqlalchemy or engine.store, or reads the engine's raw database (`.db`): the UI
  talks to the engine's facades;
- nothing reaches past a sealed package's `__init__`: a package is sealed when its `__init__.py` defines `__all__`
  (the names other packages may use). A module outside sealed package P may import only P itself, and only names
  listed in P's `__all__`; importing P.sub (or anything under it) directly is a violation. The domain packages
  listed in SEALED must be sealed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEALED = (
    "engine.accounts",
    "engine.demo",
    "engine.kpi",
    "engine.nlp.intent",
    "engine.nlp.sentiment",
    "engine.privacy.pii",
    "engine.surveys",
)
ENGINE_FORBIDDEN = ("nicegui", "ui")
TOP = ("engine.app", "engine.worker")
ENTRY_POINTS = ("engine.app", "engine.commands", "engine.bench")
RUNTIME_DEPENDS_ON = ("engine.config", "engine.store")
UI_FORBIDDEN = ("sqlmodel", "sqlalchemy", "engine.store")


@dataclass(frozen=True)
class Import:
    """One imported module (and the names taken from it), as written in `source` at `line`."""

    source: str
    line: int
    module: str
    names: tuple[str, ...] = ()
    type_only: bool = False  # under `if TYPE_CHECKING:`


@dataclass
class Tree:
    """The modules of a source tree (engine/, ui/ and main.py under `root`) and what each imports."""

    root: Path
    modules: dict[str, Path]
    packages: set[str]
    imports: list[Import]

    @classmethod
    def read(cls, root: Path) -> Tree:
        """Parse every module of the tree."""
        files = [p for d in ("engine", "ui") if (root / d).is_dir() for p in sorted((root / d).rglob("*.py"))]
        files += [root / "main.py"] if (root / "main.py").is_file() else []
        modules: dict[str, Path] = {}
        packages: set[str] = set()
        for path in files:
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
                packages.add(".".join(parts))
            modules[".".join(parts)] = path
        imports = [found for name, path in modules.items() for found in _imports(name, path, name in packages)]
        return cls(root, modules, packages, imports)

    def target(self, module: str) -> str | None:
        """The deepest module of the tree that an import of `module` loads, or None outside the tree."""
        while module and module not in self.modules:
            module = module.rpartition(".")[0]
        return module or None

    def loaded(self, found: Import) -> set[str]:
        """The tree's modules an import runs: its target (or the submodules it names) and outer packages' __init__."""
        subs = {f"{found.module}.{n}" for n in found.names if f"{found.module}.{n}" in self.modules}
        own_submodules = _inside(found.source, found.module) and len(subs) == len(found.names) > 0
        loaded: set[str] = set()
        for name in subs | (set() if own_submodules else {found.module}):
            target = self.target(name)
            if target is None:
                continue
            loaded.add(target)
            package = target.rpartition(".")[0]
            while package:
                if not _inside(found.source, package):
                    loaded.add(package)
                package = package.rpartition(".")[0]
        loaded.discard(found.source)
        return loaded


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _imports(name: str, path: Path, is_package: bool) -> list[Import]:
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    guarded = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for inner in ast.walk(child)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(name, node.lineno, alias.name, (), id(node) in guarded) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = tuple(alias.name for alias in node.names)
            found.append(Import(name, node.lineno, base, names, id(node) in guarded))
    return found


def import_cycles(tree: Tree) -> list[list[str]]:
    """Each group of engine/ modules that import one another in a cycle (Tarjan's strongly connected components)."""
    graph: dict[str, set[str]] = {m: set() for m in tree.modules if _inside(m, "engine")}
    for found in tree.imports:
        if found.source in graph:
            graph[found.source] |= {m for m in tree.loaded(found) if m in graph}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so a long chain cannot hit the recursion limit
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def forbidden_imports(tree: Tree) -> list[str]:
    """engine/ importing nicegui or ui, and ui/ importing sqlmodel or engine.store."""
    rules = (("engine", ENGINE_FORBIDDEN), ("ui", UI_FORBIDDEN))
    out = []
    for found in tree.imports:
        for layer, forbidden in rules:
            imported = [found.module, *(f"{found.module}.{n}" for n in found.names)]
            bad = sorted({f for f in forbidden for i in imported if _inside(i, f)})
            if _inside(found.source, layer) and bad:
                out.append(f"{found.source}:{found.line} imports {', '.join(bad)}")
    return out


def upward_imports(tree: Tree) -> list[str]:
    """Imports against the layers: runtime reaching above config and store, or a feature importing the top."""
    out = []
    for found in tree.imports:
        loaded = sorted(m for m in tree.loaded(found) if m != "engine")
        if found.source == "engine.runtime" and not found.type_only:
            out += [f"engine.runtime:{found.line} imports {m}" for m in loaded if not _within(m, RUNTIME_DEPENDS_ON)]
        if _inside(found.source, "engine") and not _within(found.source, ENTRY_POINTS):
            out += [f"{found.source}:{found.line} imports {m}" for m in loaded if _within(m, TOP)]
    return out


def raw_database_uses(tree: Tree) -> list[str]:
    """ui/ code that reads a `.db` attribute (the engine's SQLAlchemy engine) instead of asking a facade."""
    out = []
    for name, path in sorted(tree.modules.items()):
        if _inside(name, "ui"):
            nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            out += [f"{name}:{n.lineno} reads .db" for n in nodes if isinstance(n, ast.Attribute) and n.attr == "db"]
    return out


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(_inside(module, p) for p in packages)


def exports(tree: Tree, package: str) -> set[str] | None:
    """The names in a package's `__all__`, or None when it declares none (it is not sealed)."""
    for node in ast.parse(tree.modules[package].read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return (
                {ast.literal_eval(e) for e in node.value.elts}
                if isinstance(node.value, ast.List | ast.Tuple)
                else set()
            )
    return None


def reaching_past_exports(tree: Tree) -> list[str]:
    """Imports from outside a sealed package of its submodules, or of names its __all__ does not list."""
    sealed = {p: names for p in tree.packages if (names := exports(tree, p)) is not None}
    out = []
    for found in tree.imports:
        for package, names in sealed.items():
            if _inside(found.source, package):
                continue
            if found.module.startswith(package + "."):
                out.append(f"{found.source}:{found.line} imports {found.module}, past {package}'s __init__")
            elif found.module == package and (hidden := sorted(set(found.names) - names)):
                out.append(f"{found.source}:{found.line} imports {', '.join(hidden)}, not exported by {package}")
    return out


def unsealed(tree: Tree, required: tuple[str, ...]) -> list[str]:
    """The required packages whose __init__ declares no `__all__`."""
    return [p for p in required if p not in tree.packages or exports(tree, p) is None]


def test_engine_modules_import_each_other_without_cycles() -> None:
    assert import_cycles(Tree.read(ROOT)) == []


def test_the_engine_never_imports_the_ui_and_the_ui_never_the_database() -> None:
    tree = Tree.read(ROOT)
    assert forbidden_imports(tree) == []
    assert raw_database_uses(tree) == []


def test_dependencies_point_one_way() -> None:
    assert upward_imports(Tree.read(ROOT)) == []


def test_domain_packages_are_used_only_through_their_exports() -> None:
    tree = Tree.read(ROOT)
    assert unsealed(tree, SEALED) == []
    assert reaching_past_exports(tree) == []


def _write(root: Path, files: dict[str, str]) -> Tree:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Tree.read(root)


def test_each_kind_of_violation_is_caught_on_a_small_tree(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "engine/__init__.py": "",
            "engine/store/__init__.py": "",
            "engine/store/db.py": "import sqlmodel\n",
            "engine/runtime.py": (
                "import typing\nfrom engine.store import db\nfrom engine.kpi import tile\n"
                "if typing.TYPE_CHECKING:\n    from engine.worker import W\n"
            ),
            "engine/worker.py": "from engine.runtime import R\n",
            "engine/a.py": "def f():\n    from engine.b import g\n",
            "engine/b.py": "from engine import a\n",
            "engine/kpi/__init__.py": '"""KPIs."""\nfrom engine.kpi.tiles import tile\n__all__ = ["tile"]\n',
            "engine/kpi/tiles.py": "from engine.kpi.queries import q\ntile = q\n",
            "engine/kpi/queries.py": "q = 1\n",
            "engine/accounts/__init__.py": "",
            "engine/chart.py": "from nicegui import ui\nfrom engine.kpi.queries import q\nimport engine.kpi\n",
            "engine/report.py": "import ui.theme\nfrom engine.kpi import q\n",
            "engine/desk.py": "from engine.worker import W\nfrom engine.kpi import tile\n",
            "engine/app.py": "from engine.worker import W\n",
            "ui/__init__.py": "",
            "ui/theme.py": "",
            "ui/page.py": "from sqlmodel import select\nfrom engine.store.db import x\nfrom engine import store\n",
            "ui/card.py": "from sqlalchemy import text\nfrom ui.state import engine\n\nrows = count(engine().db)\n",
            "ui/ok.py": "from engine.kpi import tile\nfrom engine.runtime import R\n",
        },
    )
    assert import_cycles(tree) == [["engine.a", "engine.b"], ["engine.runtime", "engine.worker"]]
    assert forbidden_imports(tree) == [
        "engine.chart:1 imports nicegui",
        "engine.report:1 imports ui",
        "ui.card:1 imports sqlalchemy",
        "ui.page:1 imports sqlmodel",
        "ui.page:2 imports engine.store",
        "ui.page:3 imports engine.store",
    ]
    assert raw_database_uses(tree) == ["ui.card:4 reads .db"]
    assert reaching_past_exports(tree) == [
        "engine.chart:2 imports engine.kpi.queries, past engine.kpi's __init__",
        "engine.report:2 imports q, not exported by engine.kpi",
    ]
    assert unsealed(tree, ("engine.kpi", "engine.accounts", "engine.missing")) == ["engine.accounts", "engine.missing"]
    assert upward_imports(tree) == [
        "engine.desk:1 imports engine.worker",
        "engine.runtime:3 imports engine.kpi",
        "engine.runtime:5 imports engine.worker",
    ]


def test_imports_inside_a_package_and_of_its_exports_are_allowed(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "engine/__init__.py": "",
            "engine/kpi/__init__.py": 'from engine.kpi.tiles import tile\n__all__ = ["tile"]\n',
            "engine/kpi/tiles.py": "from engine.kpi.queries import q\nfrom engine.kpi import queries\ntile = q\n",
            "engine/kpi/queries.py": "from engine.store import db\nq = 1\n",
            "engine/store/__init__.py": "",
            "engine/store/db.py": "",
            "engine/app.py": "from engine.kpi import tile\nfrom engine.store.db import x\n",
        },
    )
    assert import_cycles(tree) == []
    assert reaching_past_exports(tree) == []

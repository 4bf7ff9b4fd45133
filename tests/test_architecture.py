"""The package keeps one direction of dependency (README, "How it works").

Every module of sweep/ is parsed with `ast`; every import counts, at module level or inside a
function, absolute or relative (`from . import x`). The rules:
- no import cycle among the package's modules (a submodule importing its own package's
  `__init__` is not an edge: Python always initialises the parent first);
- the command layer (README's layer 1: `sweep/__main__.py` and one module per `python -m
  sweep.<name>` command) is imported by no library module, and no library package has a
  `__main__` (a command and the library it calls never share a dotted name);
- README's layer table names every module, and no module imports one of a higher layer;
- no public name is defined in two modules where one of them imports the other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sweep"


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (`pkg.__init__` is `pkg`)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import mod` imports the submodule pkg.mod; `from mod import name` the module
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def is_command(name: str, layers: dict[str, int] | None = None) -> bool:
    """A command module: README's layer 1 (the `python -m` entry points)."""
    return layer_of(name, readme_layers() if layers is None else layers) == 1


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    arrows = [f"  {m} -> {', '.join(sorted(graph[m] & members))}" for m in component]
    return f"import cycle of {len(component)} modules:\n" + "\n".join(arrows)


def test_the_parser_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")  # function-level, relative
    (pkg / "b.py").write_text("import pkg.sub.c\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import x\n")
    (pkg / "sub" / "c.py").write_text("from pkg import sub\nfrom ..a import f\n")  # parent: no edge
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.sub": {"pkg.sub.c"},
                     "pkg.sub.c": {"pkg.a"}}
    found = cycles(graph)
    assert found == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert "pkg.b -> pkg.sub.c" in describe(found[0], graph)


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert len(graph) > 30 and "sweep.engine" in graph["sweep.__main__"]  # the parser works here
    found = cycles(graph)
    assert not found, "\n".join(describe(c, graph) for c in found)


def test_no_library_module_imports_the_command_layer():
    graph = import_graph()
    layers = readme_layers()
    commands = {m for m in graph if is_command(m, layers)}
    assert {"sweep.__main__", "sweep.plan", "sweep.export", "sweep.report", "sweep.compare", "sweep.retrain",
            "sweep.train"} <= commands
    wrong = {m: sorted(t for t in targets if t in commands) for m, targets in graph.items() if m not in commands}
    wrong = {m: t for m, t in wrong.items() if t}
    assert not wrong, f"library modules import the command layer: {wrong}"


def test_every_command_is_a_module_of_its_own_name_over_a_library():
    """`python -m sweep.<name>` runs sweep/<name>.py (a command); no library package has a
    `__main__`, so a command and the library it calls never share a dotted name."""
    graph = import_graph()
    layers = readme_layers()
    mains = sorted(m for m in graph if m.endswith(".__main__"))
    assert mains == ["sweep.__main__"], mains
    for m in (m for m in graph if is_command(m, layers)):
        text = module_files()[m].read_text(encoding="utf-8")
        assert 'if __name__ == "__main__":' in text or m == "sweep.__main__", m
        assert graph[m] and all(not is_command(t, layers) or t == "sweep.retrain" for t in graph[m]), (m, graph[m])


def public_names(path: Path) -> set[str]:
    """Functions, classes and assigned names a module defines at its top level (not `_private`)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and n not in ("main", "run", "USAGE")}


def test_no_public_name_is_defined_in_a_module_and_in_one_it_imports():
    """One name, one thing: `open_study` in engine and study, or `preflight` in engine and the
    Ray executor, made a reader guess which one a call meant."""
    graph = import_graph()
    files = module_files()
    defined = {m: public_names(files[m]) for m in graph}
    clashes = sorted(f"{m} and {t}: {', '.join(sorted(defined[m] & defined[t]))}"
                     for m, targets in graph.items() for t in targets if defined[m] & defined[t])
    assert not clashes, "the same public name in a module and a module it imports:\n" + "\n".join(clashes)


def readme_layers(readme: Path = PACKAGE.parent / "README.md") -> dict[str, int]:
    """README's layer table: path prefix of a module (`sweep/engine.py`, `sweep/executors/`) -> layer."""
    text = readme.read_text(encoding="utf-8")
    table = text[text.index("### Layers"):]
    layers: dict[str, int] = {}
    layer = 0
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            if layers:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0][:1].isdigit():
            layer = int(cells[0].split()[0])
        for path in re.findall(r"`(sweep/[^`]*)`", cells[1] if len(cells) > 1 else ""):
            layers[path] = layer
    return layers


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    if module.endswith("__main__"):
        return 1  # `python -m` entry modules belong to the command layer
    path = module.replace(".", "/")
    for prefix, layer in sorted(layers.items(), key=lambda kv: -len(kv[0])):
        if prefix.endswith("/") and (path + "/").startswith(prefix) \
                or prefix in (f"{path}.py", f"{path}/", f"{path}/__init__.py"):
            return layer
    return None


def test_readme_layer_table_matches_the_imports():
    layers = readme_layers()
    assert layers["sweep/__main__.py"] == 1 and layers["sweep/engine.py"] < layers["sweep/trial.py"]
    graph = import_graph()
    missing = sorted(m for m in graph if m != "sweep" and layer_of(m, layers) is None)
    assert not missing, f"modules missing from README's layer table: {missing}"
    upward = [f"{m} (layer {layer_of(m, layers)}) -> {t} (layer {layer_of(t, layers)})"
              for m, targets in sorted(graph.items()) if m != "sweep" for t in sorted(targets)
              if t != "sweep" and layer_of(t, layers) < layer_of(m, layers)]
    assert not upward, "imports up README's layer table:\n" + "\n".join(upward)

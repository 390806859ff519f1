"""No import circle in the setup side (`indexer.admin`) or the commands (`indexer.cli*`, each
package's `cli`), and the runtime never reaches for the setup command.

The graph is read from the source with `ast`, not from what one run happens to import: every
`import` counts, at module level and inside functions alike, because a function-local import
only hides a circle until the day someone moves it up. Imports under `if TYPE_CHECKING:` are
left out (they never run). An edge goes to the module named (`from pkg import name` to
`pkg.name` when that is a module, else to `pkg`) and to the packages it sits in (their
`__init__` runs first), except the importer's own parent packages (loaded before it runs)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import indexer

PACKAGE = Path(indexer.__file__).resolve().parent
# The setup command's own module, and the runtime parts that must not import it.
SETUP_COMMAND = "indexer.admin.setup"
RUNTIME = ("indexer.admin.preparer", "indexer.admin.sweeper")


def module_names() -> list[str]:
    found = pkgutil.walk_packages(indexer.__path__, prefix="indexer.")
    return sorted(["indexer", *(info.name for info in found)])


def source_of(name: str) -> Path:
    relative = Path(*name.split(".")[1:])
    package = PACKAGE / relative / "__init__.py"
    return package if package.exists() else (PACKAGE / relative).with_suffix(".py")


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, known: set[str]) -> set[str]:
    """The modules of `indexer` that `name` imports anywhere in its source."""
    path = source_of(name)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
        pending.extend(ast.iter_child_nodes(node))
    # Importing `a.b.c` runs the package `a.b` first: an edge too, unless it is our own parent.
    targets = {".".join(t.split(".")[:i]) for t in found for i in range(2, t.count(".") + 2)}
    return (targets & known) - _parents(name) - {name}


def _parents(name: str) -> set[str]:
    return {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    known = set(names)
    return {name: imports_of(name, known) for name in names}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def in_scope(name: str) -> bool:
    """The setup side and every command-line module."""
    last = name.rsplit(".", 1)[-1]
    return name.startswith("indexer.admin") or last == "cli" or last.startswith("cli_")


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path of imports from `start` to `goal`, or None."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for target in sorted(graph.get(node, ())):
            if target not in paths:
                paths[target] = paths[node] + [target]
                if target == goal:
                    return paths[target]
                todo.append(target)
    return None


def test_every_module_of_the_package_imports() -> None:
    for name in module_names():
        if not name.endswith(".__main__"):  # importing it runs the command line
            importlib.import_module(name)


def test_the_graph_sees_function_local_imports() -> None:
    # The CLI registers its subcommands from inside a function: those edges must be there.
    graph = import_graph()
    assert "indexer.admin.commands" in graph["indexer.cli"]
    assert "indexer.admin.definitions" in graph["indexer.admin.commands"]


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_setup_side_and_the_commands_import_in_one_direction() -> None:
    graph = import_graph()
    found = [c for c in circles(graph) if any(in_scope(m) for m in c)]
    assert found == [], f"import circles: {found}"


def test_the_runtime_never_imports_the_setup_command() -> None:
    graph = import_graph()
    for runtime in RUNTIME:
        path = reaches(graph, runtime, SETUP_COMMAND)
        assert path is None, f"{runtime} imports the setup command: {' -> '.join(path or [])}"

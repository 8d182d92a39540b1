"""The house's shape: imports point one way between the products, no module imports itself in a cycle, no
class does several commands' jobs, and every package says what it owns.

Layers (src/sb/*/__init__.py say the same in words):
  helpers  compat, config, names, optout, timeutil      import only helpers
  store    the shared directory and its formats          helpers, store
  collect  sacct → rollups, one module per command       helpers, store, collect
  scores   files → ranked rows, skills, levels           helpers, store, scores
  ui       terminal front ends                           helpers, scores, ui
  report   the HTML page                                 helpers, scores, report
  wiring   cli, demo, doctor, __main__                   anything
"""
import ast
import os

import pytest

from conftest import REPO

SRC = os.path.join(REPO, "src")
HELPERS = {"sb", "sb.compat", "sb.config", "sb.names", "sb.optout", "sb.timeutil"}
WIRING = {"sb.cli", "sb.demo", "sb.doctor", "sb.__main__"}
ALLOWED = {
    "helpers": {"helpers"},
    "store": {"helpers", "store"},
    "collect": {"helpers", "store", "collect"},
    "scores": {"helpers", "store", "scores"},
    "ui": {"helpers", "scores", "ui"},
    "report": {"helpers", "scores", "report"},
}
LONGEST_CLASS = 220   # lines; "no class over ~200": past that a class is doing several jobs


def modules():
    """{dotted name: path} of every module of the package (the vendored code is not ours)."""
    found = {}
    for folder, dirs, names in os.walk(os.path.join(SRC, "sb")):
        dirs[:] = [d for d in dirs if d not in ("_vendor", "__pycache__", "demo_data")]
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), SRC)[:-3].replace(os.sep, ".")
                found[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, name)
    return found


MODULES = modules()


def layer(module):
    if module in WIRING:
        return "wiring"
    if module in HELPERS:
        return "helpers"
    top = module.split(".")[1]
    return top if top in ALLOWED and top != "helpers" else "unknown: add it to HELPERS or WIRING"


def imports(module):
    """Every sb module `module` imports, at the top or inside a function (a lazy import is still an arrow)."""
    tree = ast.parse(open(MODULES[module], encoding="utf-8").read())
    package = module if MODULES[module].endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                child = base + "." + alias.name
                found.add(child if child in MODULES else base)
    return {name for name in found if name == "sb" or name.startswith("sb.") and not name.startswith("sb._vendor")}


def test_every_layer_is_known_and_every_package_says_what_it_owns():
    for module, path in MODULES.items():
        assert layer(module) in ALLOWED or layer(module) == "wiring", module
        if path.endswith("__init__.py") and module != "sb":
            doc = ast.get_docstring(ast.parse(open(path, encoding="utf-8").read()))
            assert doc and "import" in doc, "{} must say what it owns and what it may import".format(path)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module):
    mine = layer(module)
    if mine == "wiring":
        return
    for target in sorted(imports(module)):
        assert target in MODULES, "{} imports {}, which does not exist".format(module, target)
        assert layer(target) in ALLOWED[mine], "{} ({}) may not import {} ({})".format(
            module, mine, target, layer(target))


def test_no_import_cycles():
    graph = {module: imports(module) - {module} for module in MODULES}
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if target == "sb" or target not in graph:
                continue
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_checker_sees_a_wrong_arrow_and_a_cycle(tmp_path, monkeypatch):
    """The checks above can fail: a collect module importing the board, and two modules importing each other."""
    bad = {"sb.collect.x": "from sb.scores import board\n", "sb.store.a": "from sb.store import b\n",
           "sb.store.b": "import sb.store.a\n"}
    fake = dict(MODULES)
    for name, text in bad.items():
        path = tmp_path / (name.replace(".", "_") + ".py")
        path.write_text(text)
        fake[name] = str(path)
    monkeypatch.setattr(__import__(__name__), "MODULES", fake)
    with pytest.raises(AssertionError, match="may not import sb.scores.board"):
        test_imports_point_one_way("sb.collect.x")
    with pytest.raises(pytest.fail.Exception, match="sb.store.a -> sb.store.b -> sb.store.a"):
        test_no_import_cycles()


def test_no_class_is_doing_several_jobs():
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ClassDef):
                lines = max(getattr(n, "lineno", node.lineno) for n in ast.walk(node)) - node.lineno + 1
                assert lines <= LONGEST_CLASS, "{}.{} is {} lines".format(module, node.name, lines)

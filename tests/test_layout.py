"""The code layout: app.py is the script, each other module one concern beside it, and imports run
one way."""

import ast

import pytest

from conftest import REPO

MODULES = sorted(p.stem for p in REPO.glob("*.py"))
# app.py must read in about five minutes; no helper module may grow into a second app.py
MAX_LINES = 500


def imports_of(module: str) -> set[str]:
    """The project's own modules that `module` imports (at any depth of its code)."""
    tree = ast.parse((REPO / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(MODULES)


def test_the_modules_are_the_ones_the_readme_maps():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert {
        "app",
        "beam_search",
        "suggestions",
        "corpus",
        "masking",
        "modeling",
        "device",
        "training",
        "names",
        "report",
        "outputs",
        "errors",
        "bench",
    } <= set(MODULES)
    layout = readme.split("## 代码结构")[1].split("\n## ")[0]
    for module in MODULES:  # 「代码结构 / code layout」 has one row per file
        assert f"\n| `{module}.py` |" in layout, module


def test_only_the_benchmarks_import_app():
    importers = [m for m in MODULES if "app" in imports_of(m)]
    assert importers and all(m.startswith("bench") for m in importers), importers


def test_imports_have_no_cycles():
    graph = {m: imports_of(m) - {m} for m in MODULES}
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            pytest.fail("import cycle: " + " -> ".join(on_path[on_path.index(module) :] + [module]))
        if module in done:
            return
        on_path.append(module)
        for dependency in sorted(graph[module]):
            visit(dependency)
        on_path.pop()
        done.add(module)

    for module in MODULES:
        visit(module)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_is_short_and_says_what_it_is(module):
    text = (REPO / f"{module}.py").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and len(docstring.splitlines()) >= 3, (
        f"{module}.py opens without a docstring of a few lines"
    )


def test_app_docstring_maps_every_module():
    """app.py's docstring is the newcomer's map: each module beside it is named there."""
    doc = ast.get_docstring(ast.parse((REPO / "app.py").read_text(encoding="utf-8")))
    for module in MODULES:
        if module != "app":
            named = f"{module}.py" in doc or (module.startswith("bench") and "bench*.py" in doc)
            assert named, module

"""The rooms' import rules (ARCHITECTURE.md), read from the source: no upward import, no loop between packages.

Every module under src/vocalex is parsed (not imported), so an import inside a function counts as much as
one at the top: a lazy import still ties the rooms together.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vocalex"

# Who may import whom (besides itself). The order is the layering: cli on top, base (the ground floor) at the bottom.
ALLOWED = {
    "base": set(),
    "engine": {"base"},
    "files": {"engine", "base"},
    "live": {"files", "engine", "base"},
    "data": {"files", "engine", "base"},
    "export": {"engine", "base"},
    "evaluation": {"data", "export", "files", "engine", "base"},
    "training": {"evaluation", "data", "export", "files", "engine", "base"},
    "cluster": {"files", "engine", "base"},
    "studio": {"export", "live", "files", "engine", "base"},
    "cli": {"studio", "cluster", "training", "evaluation", "data", "export", "live", "files", "engine", "base"},
}
# The studio's one adapter: the only module of its room that calls the rest of vocalex, so that a move in the
# library (issue 23's rooms) is fixed in one place.
STUDIO_ADAPTER = "vocalex.studio.library"


def _room(module: str) -> str | None:
    """The package of vocalex a module belongs to; None for vocalex itself and its __main__ (the entry point
    above every room) and for anything outside vocalex."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "vocalex" or not (SRC / parts[1]).is_dir():
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every vocalex module `path` imports, absolute or relative, at any depth of its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` names a module
    return {m for m in found if m.split(".")[0] == "vocalex"}


def _edges():
    """(importing room, imported room, module, imported module) for every import across rooms."""
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        here = _room(module)
        for target in _imports(path):
            there = _room(target)
            if here and there and there != here and there in ALLOWED:
                edges.append((here, there, module, target))
    return edges


def test_every_room_is_known():
    rooms = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == set(ALLOWED), rooms ^ set(ALLOWED)


def test_the_tests_mirror_the_rooms():
    # tests/<room>/ for the tests of a room; models/ holds the test models, the helpers sit at the top.
    tests = Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders <= set(ALLOWED), folders - set(ALLOWED)
    assert not [p.name for p in tests.glob("test_*.py") if p.name != Path(__file__).name]  # the house-wide test alone


def test_no_import_points_the_wrong_way():
    wrong = [f"{module} imports {target} ({here} -> {there})"
             for here, there, module, target in _edges() if there not in ALLOWED[here]]
    assert not wrong, "\n".join(wrong)


def test_only_the_studio_adapter_calls_the_library():
    outside = sorted(f"{module} imports {target}" for here, there, module, target in _edges()
                     if here == "studio" and module != STUDIO_ADAPTER)
    assert not outside, outside


def test_no_import_cycle_between_packages():
    graph = {room: set() for room in ALLOWED}
    for here, there, _, _ in _edges():
        graph[here].add(there)

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, (*seen, nxt))) for nxt in graph[start])

    loops = sorted(room for room in graph if reaches(room, room))
    assert not loops, {room: sorted(graph[room]) for room in loops}


def test_the_rules_themselves_have_no_cycle():
    # The allowed graph is a strict order; an edit that allowed a loop would make the two tests above toothless.
    order = []
    pending = dict(ALLOWED)
    while pending:
        ready = [room for room, deps in pending.items() if deps <= set(order)]
        assert ready, pending
        order += sorted(ready)
        for room in ready:
            del pending[room]


def test_the_checker_sees_a_wrong_import(tmp_path, monkeypatch):
    # The parser must catch a lazy, relative upward import, or the rules above check nothing.
    fake = tmp_path / "vocalex"
    (fake / "engine").mkdir(parents=True)
    (fake / "cli").mkdir()
    for d in (fake, fake / "engine", fake / "cli"):
        (d / "__init__.py").write_text("")
    (fake / "engine" / "x.py").write_text("def f():\n    from ..cli import main\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert ("engine", "cli", "vocalex.engine.x", "vocalex.cli") in _edges()


@pytest.mark.subprocess
@pytest.mark.parametrize("package", ["vocalex.base", "vocalex.engine", "vocalex.files", "vocalex.live"])
def test_runtime_packages_do_not_import_torch(package):
    # Importing every module of the runtime (not only the package's __init__) loads no torch.
    code = ("import importlib, pkgutil, sys\n"
            f"import {package} as p\n"
            "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
            "    importlib.import_module(m.name)\n"
            "print(sorted(m for m in ('torch', 'vocalex.training', 'vocalex.evaluation', 'vocalex.export', "
            "'vocalex.cli') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


SHARED_OPTIONS = ("--model", "--provider", "--threads", "--stride", "--lookahead")


def test_shared_options_are_declared_only_in_cli_options():
    # Declared once (cli/options.py) from engine.config's constants: a command re-declaring one would drift again.
    found = []
    for path in sorted((SRC / "cli").glob("*.py")):
        if path.name == "options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
                names = {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
                found += [f"{path.name}: {name}" for name in sorted(names & set(SHARED_OPTIONS))]
    assert not found, found


def test_every_command_with_a_model_takes_the_same_lookahead():
    from vocalex.cli.main import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps the sub-parsers here
    takes = {name for name, sub in commands.items()
             if any("--lookahead" in action.option_strings for action in sub._actions)}
    assert takes == {"separate", "batch", "live", "eval", "bench"}, takes
    for name in takes:
        args = commands[name].parse_args(["x"] if name in ("separate", "eval") else [])
        assert args.lookahead is None  # not given: the library's default applies
        args = commands[name].parse_args((["x"] if name in ("separate", "eval") else []) + ["--lookahead", "20ms"])
        assert args.lookahead == "20ms"  # turned into frames once the model is known (engine.config.resolve_stream)


def test_only_the_cluster_runner_imports_ray():
    # Ray is an extra (vocalex[ray]) for `vocalex batch`: the local path (`vocalex separate`, live, the library) never
    # loads it; tests/cluster/test_cluster.py checks the running `vocalex separate` too.
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(name == "ray" or name.startswith("ray.") for name in names):
                found.append(str(path.relative_to(SRC)))
    assert sorted(set(found)) == ["cluster/runner.py"], found


def test_the_cluster_room_calls_the_library_through_one_module():
    # Every import of the library from cluster/ sits in cluster/library.py: when file I/O moves (issue 23) that
    # module is the one to fix.
    outside = [f"{module} imports {target}" for here, there, module, target in _edges()
               if here == "cluster" and module != "vocalex.cluster.library"]
    assert not outside, outside

"""Layering and public surface, checked on the source itself.

* ``keys``, ``codec``, ``tokens`` and ``exceptions`` are framework-free: they never import Sanic
  and only import each other, so they load with Sanic made unimportable.
* Imports point down: every module sits in one layer of ``LAYERS`` (docs/architecture.md) and
  imports only its own layer or lower ones, ``if TYPE_CHECKING:`` imports included; the import
  graph (``TYPE_CHECKING`` included) has no cycle.
* No module reads or writes another object's ``_private`` attribute (``self``/``cls`` aside),
  unless a class of that same module defines the attribute.
* The root ``__all__`` holds the core names and only names the contract lists, every module
  declares a tuple ``__all__``,
  and ``py.typed`` is present and shipped.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import sanic_jwt_extended

PACKAGE = "sanic_jwt_extended"
PKG_DIR = Path(sanic_jwt_extended.__file__).resolve().parent
# Dotted names below the package, subpackages included ("blocklist", "blocklist.base", ...).
MODULES = sorted(
    info.name.removeprefix(f"{PACKAGE}.") for info in pkgutil.walk_packages([str(PKG_DIR)], prefix=f"{PACKAGE}.")
)
FRAMEWORK_FREE = ("keys", "claims", "claim_checks", "segments", "codec", "tokens", "exceptions")
# The layers of docs/architecture.md: a module imports only from its own layer or below.
# 0 names and the error family; 1 the Sanic-free core; 2 request level; 3 Sanic glue;
# 4 the manager and the package root; 5 tools and integrations built on the manager.
LAYERS: dict[str, int] = {
    "exceptions": 0,
    "blocklist.base": 0,
    "claims": 1,
    "claim_checks": 1,
    "keys": 1,
    "jwk_set": 1,
    "key_loading": 1,
    "segments": 1,
    "codec": 1,
    "tokens": 1,
    "cache": 1,
    "settings": 1,
    "validate": 1,
    "validate_cookies": 1,
    "validate_stores": 1,
    "sealing": 1,
    "config": 1,
    "app_config": 1,
    "jwks": 1,
    "jwks_download": 1,
    "revocation": 1,
    "sessions": 2,
    "blocklist": 1,
    "blocklist.memory": 1,
    "blocklist.mirror": 1,
    "blocklist.redis": 1,
    "blocklist.redis_clients": 1,
    "blocklist.redis_sessions": 1,
    "locations": 2,
    "csrf": 2,
    "requirements": 2,
    "issuing": 2,
    "steps": 2,
    "decoding": 2,
    "verification": 2,
    "cookies": 3,
    "decorators": 3,
    "handler": 3,
    "events": 3,
    "hooks": 3,
    "openapi": 3,
    "manager": 4,
    "loaders": 4,
    "facade": 4,
    "testing": 5,
    "pytest_plugin": 5,
    "cli": 5,
    "cli.inputs": 5,
    "cli.key_commands": 5,
    "cli.token_commands": 5,
    "__main__": 5,
}
# Upward imports not yet removed (module, imported module): this list only shrinks.
UPWARD_ALLOWED: set[tuple[str, str]] = set()
# Private attributes still read across modules (module, attribute): this list only shrinks.
PRIVATE_ALLOWED: set[tuple[str, str]] = set()
# Always exported.
ROOT_ALL = {
    "JWT",
    "Config",
    "JWTExtendedException",
    "JWTManager",
    "Token",
    "jwt_optional",
    "jwt_required",
    "refresh_jwt_required",
    "verify_jwt_in_request",
}
# The contract's full import list: the cookie helpers and blocklists join ROOT_ALL as they land.
CONTRACT_NAMES = ROOT_ALL | {
    "set_access_cookies",
    "set_refresh_cookies",
    "unset_jwt_cookies",
    "unset_access_cookies",
    "unset_refresh_cookies",
    "get_csrf_token",
    "get_unverified_jwt_headers",
    "InMemoryBlocklist",
    "RedisBlocklist",
}


# -- import scanner ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    target: str  # absolute dotted name; "sanic_jwt_extended" for the package root
    line: int
    type_checking: bool


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(node: ast.ImportFrom, alias: ast.alias, package: tuple[str, ...] = ()) -> str:
    if node.level == 0:
        return node.module or ""
    if node.level - 1 > len(package):
        return "<outside the package>"
    base = [PACKAGE, *package[: len(package) - (node.level - 1)]]
    if node.module:
        return ".".join([*base, node.module])
    # `from . import name`: a submodule if one exists, otherwise a name from that __init__.
    candidate = ".".join([*base[1:], alias.name])
    return f"{PACKAGE}.{candidate}" if candidate in MODULES else ".".join(base)


def scan(source: str, package: tuple[str, ...] = ()) -> list[Imported]:
    """Every import in ``source`` (at any depth), marking those under ``if TYPE_CHECKING:``.

    ``package`` is the importing module's subpackage path below the root, for relative imports.
    """
    found: list[Imported] = []

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            found.extend(Imported(alias.name, node.lineno, type_checking) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.extend(Imported(_resolve(node, alias, package), node.lineno, type_checking) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(ast.parse(source), False)
    return found


def module_path(module: str) -> Path:
    parts = module.split(".")
    package_dir = PKG_DIR.joinpath(*parts)
    return package_dir / "__init__.py" if package_dir.is_dir() else PKG_DIR.joinpath(*parts[:-1], f"{parts[-1]}.py")


def imports_of(module: str) -> list[Imported]:
    path = module_path(module)
    package = tuple(module.split(".")) if path.name == "__init__.py" else tuple(module.split(".")[:-1])
    return scan(path.read_text(encoding="utf-8"), package)


def is_sanic(target: str) -> bool:
    top = target.split(".")[0]
    return top.startswith("sanic") and top != PACKAGE


def internal(target: str) -> bool:
    return target == PACKAGE or target.startswith(f"{PACKAGE}.") or target == "<outside the package>"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import sanic", [("sanic", False)]),
        ("from sanic.response import json", [("sanic.response", False)]),
        ("def f():\n    import sanic_routing", [("sanic_routing", False)]),
        ("from . import manager", [(f"{PACKAGE}.manager", False)]),
        ("from .manager import JWT", [(f"{PACKAGE}.manager", False)]),
        ("from sanic_jwt_extended.manager import JWT", [(f"{PACKAGE}.manager", False)]),
        ("from . import JWT", [(PACKAGE, False)]),
        ("from .. import x", [("<outside the package>", False)]),
        ("if TYPE_CHECKING:\n    from .manager import JWT", [(f"{PACKAGE}.manager", True)]),
        ("if typing.TYPE_CHECKING:\n    import sanic", [("sanic", True)]),
        ("if TYPE_CHECKING:\n    pass\nelse:\n    import sanic", [("sanic", False)]),
        ("try:\n    import sanic\nexcept ImportError:\n    pass", [("sanic", False)]),
    ],
    ids=[
        "import",
        "from-import",
        "nested-import",
        "relative-module",
        "relative-from",
        "absolute-from",
        "root-name",
        "outside",
        "type-checking",
        "typing-type-checking",
        "type-checking-else",
        "in-try",
    ],
)
def test_scanner_sees_every_kind_of_import(source: str, expected: list[tuple[str, bool]]) -> None:
    # The layering tests below are only as good as this scanner.
    assert [(found.target, found.type_checking) for found in scan(source)] == expected


def test_package_modules_are_discovered() -> None:
    # Guards the parametrisations below against silently testing nothing.
    assert {*FRAMEWORK_FREE, "manager"} <= set(MODULES)


# -- framework-free core ----------------------------------------------------------------------


@pytest.mark.parametrize("module", FRAMEWORK_FREE)
def test_core_module_never_imports_sanic(module: str) -> None:
    offending = [(found.target, found.line) for found in imports_of(module) if is_sanic(found.target)]
    assert offending == [], f"{module}.py imports Sanic: {offending}"


@pytest.mark.parametrize("module", FRAMEWORK_FREE)
def test_core_module_imports_only_core_modules(module: str) -> None:
    allowed = {f"{PACKAGE}.{name}" for name in FRAMEWORK_FREE}
    offending = [
        (found.target, found.line)
        for found in imports_of(module)
        if internal(found.target) and found.target not in allowed
    ]
    assert offending == [], f"{module}.py reaches outside the framework-free core: {offending}"


def test_core_modules_load_with_sanic_unimportable() -> None:
    # A stand-in package object, so that importing a submodule does not run __init__.py
    # (which needs Sanic); `sys.modules["sanic"] = None` makes any `import sanic` fail.
    script = textwrap.dedent(
        f"""
        import importlib, sys, types
        sys.modules["sanic"] = None
        package = types.ModuleType({PACKAGE!r})
        package.__path__ = [{str(PKG_DIR)!r}]
        sys.modules[{PACKAGE!r}] = package
        for name in {FRAMEWORK_FREE!r}:
            importlib.import_module({PACKAGE!r} + "." + name)
        leaked = sorted(
            name for name, module in sys.modules.items()
            if module is not None and name.split(".")[0].startswith("sanic") and name.split(".")[0] != {PACKAGE!r}
        )
        assert not leaked, leaked
        # Control: a module that does need Sanic must fail here, or the check above proves nothing.
        try:
            importlib.import_module({PACKAGE!r} + ".manager")
        except ImportError:
            print("core-loaded; manager-blocked")
        else:
            raise SystemExit("manager imported although sanic is blocked")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "core-loaded; manager-blocked"


# -- imports point down -----------------------------------------------------------------------


@pytest.mark.parametrize("module", [name for name in MODULES if LAYERS.get(name, 0) < LAYERS["manager"]])
def test_only_the_root_and_tools_import_manager(module: str) -> None:
    offending = [
        found.line for found in imports_of(module) if found.target == f"{PACKAGE}.manager" and not found.type_checking
    ]
    assert offending == [], f"{module}.py imports manager at runtime (lines {offending}); only the root and tools may"


@pytest.mark.parametrize("module", MODULES)
def test_submodules_never_import_the_package_root(module: str) -> None:
    offending = [
        (found.target, found.line)
        for found in imports_of(module)
        if found.target in {PACKAGE, "<outside the package>"} and not found.type_checking
    ]
    assert offending == [], f"{module}.py imports upwards: {offending}"


def test_import_graph_has_no_cycle() -> None:
    # TYPE_CHECKING imports count: a cycle hidden from the interpreter is still a cycle for
    # the reader, and for mypy.
    graph = {
        module: sorted(
            {
                found.target.removeprefix(f"{PACKAGE}.")
                for found in imports_of(module)
                if found.target.startswith(f"{PACKAGE}.")
                and (found.target, module) not in {(f"{PACKAGE}.{b}", a) for a, b in UPWARD_ALLOWED}
            }
        )
        for module in MODULES
    }
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for dependency in graph.get(module, []):
            if state.get(dependency) == "open":
                cycle = [*path[path.index(dependency) :], dependency]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if dependency not in state:
                visit(dependency)
        path.pop()
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            visit(module)
    assert set(state) == set(MODULES)


def test_every_module_has_a_layer() -> None:
    assert set(MODULES) - set(LAYERS) == set(), "add new modules to LAYERS (and docs/architecture.md)"
    assert set(LAYERS) - set(MODULES) == set(), "LAYERS names modules that no longer exist"


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module: str) -> None:
    level = LAYERS[module]
    offending = [
        (found.target, found.line, "TYPE_CHECKING" if found.type_checking else "runtime")
        for found in imports_of(module)
        if found.target.startswith(f"{PACKAGE}.")
        and (target := found.target.removeprefix(f"{PACKAGE}.")) in LAYERS
        and LAYERS[target] > level
        and (module, target) not in UPWARD_ALLOWED
    ]
    assert offending == [], f"{module}.py (layer {level}) imports upwards: {offending}"


def test_upward_allow_list_only_holds_real_imports() -> None:
    # A fixed upward import must leave the list, so the list cannot hide a new one later.
    real = {
        (module, found.target.removeprefix(f"{PACKAGE}."))
        for module in MODULES
        for found in imports_of(module)
        if found.target.startswith(f"{PACKAGE}.")
    }
    assert UPWARD_ALLOWED - real == set()


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def private_uses(source: str) -> list[tuple[str, int]]:
    """``(attribute, line)`` of every ``obj._name`` where ``obj`` is not ``self``, ``cls`` or
    ``super()`` and no class of ``source`` defines ``_name`` (as a method, a ``self._name``
    assignment or a ``__slots__`` entry)."""
    tree = ast.parse(source)
    own: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in ast.walk(node):
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                own.add(item.name)
            elif (
                isinstance(item, ast.Attribute)
                and isinstance(item.value, ast.Name)
                and item.value.id in ("self", "cls")
            ):
                own.add(item.attr)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                own.add(item.target.id)
            elif isinstance(item, ast.Constant) and isinstance(item.value, str):
                own.add(item.value)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        value = node.value
        if _is_self(value):
            continue
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
            continue
        if node.attr not in own:
            found.append((node.attr, node.lineno))
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(manager):\n    return manager._keys", [("_keys", 2)]),
        ("def f(manager):\n    manager._keys = 1", [("_keys", 2)]),
        ("class A:\n    def f(self):\n        return self._x", []),
        ("class A:\n    def f(self, other):\n        self._x = 1\n        return other._x", []),
        ("class A:\n    def f(self):\n        return super()._x", []),
        ("class A:\n    @classmethod\n    def f(cls):\n        return cls._x", []),
        ("x = obj.__class__", []),
    ],
    ids=["read", "write", "self", "same-module-class", "super", "cls", "dunder"],
)
def test_private_scanner(source: str, expected: list[tuple[str, int]]) -> None:
    assert private_uses(source) == expected


@pytest.mark.parametrize("module", MODULES)
def test_no_private_attribute_of_another_module(module: str) -> None:
    found = private_uses(module_path(module).read_text(encoding="utf-8"))
    offending = [(name, line) for name, line in found if (module, name) not in PRIVATE_ALLOWED]
    assert offending == [], f"{module}.py touches private attributes of objects it does not own: {offending}"


def test_private_allow_list_only_holds_real_uses() -> None:
    real = {(module, name) for module in MODULES for name, _ in private_uses(module_path(module).read_text("utf-8"))}
    assert PRIVATE_ALLOWED - real == set()


# -- public surface ---------------------------------------------------------------------------


def test_root_all_is_the_documented_set() -> None:
    exported = sanic_jwt_extended.__all__
    assert isinstance(exported, tuple)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    assert ROOT_ALL - set(exported) == set(), "core names missing from __all__"
    assert set(exported) - CONTRACT_NAMES == set(), "names exported that the contract does not list"


def test_root_all_lists_every_contract_name_the_package_defines() -> None:
    # A contract name importable from the root but left out of __all__ is an export mistake.
    defined = {name for name in CONTRACT_NAMES if hasattr(sanic_jwt_extended, name)}
    assert set(sanic_jwt_extended.__all__) == defined


@pytest.mark.parametrize("name", sorted(ROOT_ALL))
def test_root_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {PACKAGE} import {name}", namespace)  # noqa: S102 - fixed names, the point is the import statement
    assert namespace[name] is getattr(sanic_jwt_extended, name)
    assert namespace[name] is not None


def test_every_name_in_root_all_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec(f"from {PACKAGE} import *", namespace)  # noqa: S102
    assert set(namespace) - {"__builtins__"} == set(sanic_jwt_extended.__all__)
    assert all(namespace[name] is not None for name in sanic_jwt_extended.__all__)


def test_seed_import_path_for_token_still_works() -> None:
    from sanic_jwt_extended.tokens import Token

    assert Token is sanic_jwt_extended.Token
    assert Token.__module__ == f"{PACKAGE}.tokens"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_declares_a_tuple_all(module: str) -> None:
    loaded = importlib.import_module(f"{PACKAGE}.{module}")
    exported = getattr(loaded, "__all__", None)
    assert isinstance(exported, tuple), f"{module}.__all__ must be a tuple, got {type(exported).__name__}"
    assert exported, f"{module}.__all__ is empty"
    assert all(isinstance(name, str) for name in exported)
    assert len(exported) == len(set(exported)), f"duplicates in {module}.__all__"
    missing = [name for name in exported if not hasattr(loaded, name)]
    assert missing == [], f"{module}.__all__ lists names it does not define: {missing}"


def test_init_declares_a_tuple_all_literal() -> None:
    tree = ast.parse((PKG_DIR / "__init__.py").read_text(encoding="utf-8"))
    assigned = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    assert len(assigned) == 1
    assert isinstance(assigned[0], ast.Tuple)


def test_py_typed_marker_exists_and_is_shipped() -> None:
    assert (PKG_DIR / "py.typed").is_file()
    packaging = "".join(
        path.read_text(encoding="utf-8")
        for path in (PKG_DIR.parent / "setup.cfg", PKG_DIR.parent / "pyproject.toml")
        if path.is_file()
    )
    assert "py.typed" in packaging, "py.typed is not listed in the package data"

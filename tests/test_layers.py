"""The import graph keeps one direction: documents ← store, schemas ← services ← api.

Every module under crm/, workers/, vendor_simulator/ and devstack/ is parsed (not
imported), and each import, at any depth of the module, is checked against what its
layer may import. A module of crm/ that no layer claims fails too, so a new one is
placed deliberately.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "workers", "vendor_simulator", "devstack")
WEB = ("flask", "flask_smorest", "werkzeug")

# Modules of crm/ below every layer: they import nothing of this project.
FOUNDATIONS = ("crm.clock", "crm.config", "crm.logs", "crm.metrics", "crm.signatures", "crm.vendor")
CRM_BELOW_API = ("crm.documents", "crm.store", "crm.schemas", "crm.services", *FOUNDATIONS)

# (layer, what it may import of this project, what it may never import at all)
LAYERS = [
    ("crm.clock", (), ()),
    ("crm.config", (), ()),
    ("crm.logs", (), ()),
    ("crm.metrics", (), ()),
    ("crm.signatures", (), ()),
    ("crm.vendor", (), ()),
    ("crm.documents", ("crm.clock", "crm.documents"), (*WEB, "marshmallow")),
    ("crm.store", ("crm.clock", "crm.documents", "crm.store"), (*WEB, "marshmallow")),
    ("crm.schemas", ("crm.clock", "crm.documents", "crm.schemas"), WEB),
    (
        "crm.services",
        (
            "crm.clock",
            "crm.config",
            "crm.db",
            "crm.documents",
            "crm.metrics",
            "crm.schemas",
            "crm.services",
            "crm.store",
            "crm.vendor",
        ),
        (*WEB, "dramatiq"),
    ),
    ("crm.db", ("crm.config", "crm.documents"), WEB),
    # Redis and the broker, for every process: below the API, the console and the workers.
    ("crm.queue", (*CRM_BELOW_API, "crm.db", "crm.queue"), WEB),
    # The API and what assembles the app and its CLI: anything in crm.
    ("crm.api", ("crm",), ()),
    # The console: the API's peer, over the same services; never the API's own modules.
    ("crm.web", ("crm.web", "crm.db", "crm.queue", *CRM_BELOW_API), ()),
    ("crm.cli", ("crm",), ()),
    ("crm.commands", ("crm",), ()),
    ("crm.maintenance", ("crm",), ()),
    ("crm", ("crm",), ()),
    # An entry point beside the API and the console: it imports crm, never the reverse.
    ("workers", (*CRM_BELOW_API, "crm.db", "crm.queue", "workers"), ()),
    ("vendor_simulator", ("vendor_simulator",), ()),
    ("devstack", ("crm", "workers", "vendor_simulator", "devstack"), ()),
]


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The most specific layer claiming ``module``."""
    claiming = [layer for layer in LAYERS if within(module, layer[0])]
    return max(claiming, key=lambda layer: len(layer[0]))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules ``path`` imports; ``from a import b`` counts as ``a.b`` when that is a
    module of this project, and as ``a`` otherwise."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def violations(checked: dict[str, Path], known: set[str]) -> list[str]:
    """Each import of a ``checked`` module its layer does not allow."""
    problems = []
    for module, path in checked.items():
        name, allowed, forbidden = layer_of(module)
        for target in sorted(imports(path, module, known)):
            ours = target.split(".")[0] in PACKAGES
            if ours and not any(within(target, prefix) for prefix in allowed):
                problems.append(f"{module} ({name}) imports {target}")
            if any(within(target, prefix) for prefix in forbidden):
                problems.append(f"{module} ({name}) imports {target}")
    return problems


def test_every_import_follows_the_layers():
    found = modules()
    assert violations(found, set(found)) == []


def test_every_module_of_crm_has_its_own_layer():
    """Only the package itself falls to the catch-all ``crm`` layer: a new module is placed."""
    unplaced = [module for module in modules() if layer_of(module)[0] == "crm"]
    assert unplaced == ["crm"]


def test_an_import_against_the_grain_is_caught(tmp_path):
    module = "crm.documents.audience"
    bad = tmp_path / "audience.py"
    bad.write_text("from crm.clock import utcnow\nfrom crm.services import segments\n")
    assert violations({module: bad}, set(modules())) == [
        f"{module} (crm.documents) imports crm.services.segments"
    ]


def test_no_import_waits_below_code():
    """Imports sit at the top of a module (or inside a function), never after its code."""
    waiver = "noqa: " + "E402"  # spelled apart, so this file does not match itself
    sources = [*ROOT.glob("*.py")]
    for directory in (*PACKAGES, "tests", "bench"):
        sources += (ROOT / directory).rglob("*.py")
    marked = [str(path.relative_to(ROOT)) for path in sources if waiver in path.read_text()]
    assert marked == []


REQUEST_LOCATIONS = {"json", "query", "form", "files", "headers", "cookies", "path"}


def request_locations_named(tree: ast.AST) -> list[int]:
    """Lines of a domain error raised with a request location around its fields, or told
    its location: the API alone knows where a request carried a field."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            given = [*node.exc.args[1:2], *(k.value for k in node.exc.keywords)]
            keys = [k for d in given if isinstance(d, ast.Dict) for k in d.keys]
            if any(isinstance(k, ast.Constant) and k.value in REQUEST_LOCATIONS for k in keys):
                found.append(node.lineno)
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Attribute) and t.attr == "location" for t in targets):
            found.append(node.lineno)
    return found


def test_services_name_fields_by_their_paths_and_never_by_request_location():
    named = {
        f"{path.relative_to(ROOT)}:{line}"
        for module, path in modules().items()
        if within(module, "crm.services")
        for line in request_locations_named(ast.parse(path.read_text()))
    }
    assert not named, sorted(named)


def test_a_request_location_in_a_service_error_is_caught():
    tree = ast.parse('raise InvalidInput("Bad.", {"json": {"name": ["Too long."]}})')
    assert request_locations_named(tree) == [1]


def test_nothing_in_crm_imports_the_workers():
    """The workers are an entry point like the API and the console: they import crm, and
    crm (the API and the console included) reaches the actors only through ``crm.queue``."""
    found = modules()
    importing = {
        module: sorted(
            target for target in imports(path, module, set(found)) if within(target, "workers")
        )
        for module, path in found.items()
        if within(module, "crm")
    }
    assert {module: targets for module, targets in importing.items() if targets} == {}


def test_the_queue_modules_are_fully_typed():
    paths = sorted((ROOT / "crm" / "queue").glob("*.py"))
    assert paths
    for path in paths:
        assert "type: ignore" not in path.read_text(), path

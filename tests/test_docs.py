"""The documentation keeps up with the code: every setting has a row in
docs/configuration.md, the README's layout names only paths that exist and covers what
the tree holds, and the README stays short (the rest lives in docs/)."""

import re
from dataclasses import fields
from pathlib import Path

from crm.config import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Settings also read unprefixed, the names hosting platforms and images already set.
UNPREFIXED = {"mongodb_uri": "MONGODB_URI", "redis_url": "REDIS_URL"}


def readme_section(title: str) -> str:
    found = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README.read_text(), re.M | re.S)
    assert found, f"README.md has no '## {title}' section"
    return found.group(1)


def layout_paths() -> list[str]:
    """The paths the Layout section's list names in backticks (a command has a space)."""
    listing = readme_section("Layout").strip().split("\n\n")[0]
    assert listing.startswith("- "), "the Layout section starts with its list"
    return re.findall(r"`([^`\s]+)`", listing)


def test_every_setting_is_documented() -> None:
    table = CONFIGURATION.read_text()

    def documented(field: str) -> bool:
        return any(f"`{name}`" in table for name in (env_name(field), UNPREFIXED.get(field)))

    undocumented = [env_name(f.name) for f in fields(Settings) if not documented(f.name)]
    assert not undocumented, f"docs/configuration.md lacks {undocumented}"


def test_layout_names_only_paths_that_exist() -> None:
    paths = layout_paths()
    assert len(paths) > 20, paths
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert not missing, f"README's Layout names paths that do not exist: {missing}"


def packages(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if (path / "__init__.py").exists()]


def modules(folder: Path) -> list[Path]:
    return [path for path in folder.glob("*.py") if path.name != "__init__.py"]


def test_layout_covers_every_package_and_module() -> None:
    """Every package and module of crm/ and workers/, and every package of crm/services/."""
    named = {path.rstrip("/") for path in layout_paths()}
    crm, services, workers = ROOT / "crm", ROOT / "crm" / "services", ROOT / "workers"
    tree = [*packages(crm), *modules(crm), *packages(services), *modules(workers)]
    expected = {str(path.relative_to(ROOT)) for path in tree}
    unnamed = sorted(expected - named)
    assert not unnamed, f"README's Layout does not name {unnamed}"


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= 200, f"README.md has {lines} lines; details belong in docs/"


def test_readme_links_only_to_docs_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text())
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing {missing}"


def test_every_code_block_is_closed() -> None:
    unclosed = [
        str(page.relative_to(ROOT))
        for page in [README, *(ROOT / "docs").glob("*.md")]
        if sum(line.startswith("```") for line in page.read_text().splitlines()) % 2
    ]
    assert not unclosed, f"a code block is left open in {unclosed}"

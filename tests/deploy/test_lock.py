"""The lock files agree with pyproject.toml, with each other and with what is installed.

A dependency added to pyproject.toml without `make lock` fails here rather than in a clean
clone's `make install`, where pip refuses anything the lock does not name.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.config import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        found = PIN.match(line)
        if found:
            name = canonicalize_name(found.group(1))
            assert i + 1 < len(lines) and "--hash=sha256:" in lines[i + 1], f"{name}: no hash"
            pins[name] = found.group(2)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in [*project["dependencies"], *extras["dev"], *extras["postgres"]]]


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    pins = _pins(REPO / "requirements.lock")
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, pyproject.toml asks {req}: `make lock`"
        )


def test_the_image_lock_holds_the_same_versions_without_the_dev_tools() -> None:
    full = _pins(REPO / "requirements.lock")
    deploy = _pins(REPO / "requirements-deploy.lock")
    assert {n: v for n, v in deploy.items() if full.get(n) != v} == {}
    assert "pytest" not in deploy and "pysip2" not in deploy
    assert {"rq", "redis", "psycopg", "flask"} <= set(deploy)


def test_this_environment_was_installed_from_the_lock() -> None:
    pins = _pins(REPO / "requirements.lock")
    for name in ("rq", "redis", "flask", "sqlalchemy", "pytest"):
        assert version(name) == pins[name], f"{name}: installed {version(name)}, lock {pins[name]}"

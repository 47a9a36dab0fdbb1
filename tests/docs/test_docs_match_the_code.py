"""The docs and the example configuration name only settings the configuration model knows and
only ``lockerbridge`` commands and options the command line has."""

from __future__ import annotations

import argparse
import re
import shlex
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bridge.config import Settings
from bridge.entrypoints.cli import build_parser
from tests.support.config import REPO

DOCS = [*sorted((REPO / "docs").rglob("*.md")), REPO / "README.md"]
EXAMPLE = REPO / "examples" / "lockerbridge.toml"


# --- the configuration model as a tree --------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through list[...], X | None, dict values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, dict):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _fields(model: type[BaseModel]) -> set[str]:
    # A ``x_file`` key is read as the secret ``x`` (bridge.config); ``ca_file`` is its own.
    names = set(model.model_fields)
    return names | {f"{n}_file" for n in names}


def _child(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    info = model.model_fields.get(name)
    found = _models_in(info.annotation) if info is not None else []
    return found[0] if found else None


def _model_at(path: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in path:
        model = _child(model, part) if model is not None else None
    return model


def _all_models() -> dict[str, set[type[BaseModel]]]:
    """Every field name that holds a model, with the models it may hold."""
    out: dict[str, set[type[BaseModel]]] = {}
    todo: list[type[BaseModel]] = [Settings]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            for child in _models_in(info.annotation):
                out.setdefault(name, set()).add(child)
                todo.append(child)
    return out


# --- settings named in the docs -----------------------------------------------------------------

_TABLE = re.compile(r"\[\[?([a-z_.]+)\]\]?")


def _table_path(text: str) -> list[str]:
    match = _TABLE.fullmatch(text.strip())
    assert match, text
    return match.group(1).split(".")


def _configuration_rows() -> Iterator[tuple[str, list[type[BaseModel]], str]]:
    """(section heading, its models, setting name) for every row of configuration.md's tables."""
    models: list[type[BaseModel]] = []
    heading = ""
    for line in (REPO / "docs" / "configuration.md").read_text().splitlines():
        if line.startswith("## ") or line.startswith("### "):
            heading = line
            tables = re.findall(r"`(\[\[?[a-z_.]+\]\]?)`", line)
            if line.startswith("### "):
                parent = models[0] if models else Settings
                name = re.findall(r"`([a-z_]+)`", line)
                child = _child(parent, name[0]) if name else None
                models = [child] if child else []
            elif tables:
                models = [m for t in tables if (m := _model_at(_table_path(t))) is not None]
            elif "Top level" in line:
                models = [Settings]
            else:
                models = []
            continue
        if not line.startswith("| `") or not models:
            continue
        first = line.split("|")[1]
        for token in re.findall(r"`([^`]+)`", first):
            yield heading, models, token


def test_every_setting_in_the_configuration_reference_exists() -> None:
    unknown = []
    rows = list(_configuration_rows())
    assert len(rows) > 60  # the reader found the tables
    for heading, models, token in rows:
        if token.startswith("["):
            known = _model_at(_table_path(token)) is not None
        elif "." in token:
            *path, key = token.split(".")
            owners = [_model_at(path)]
            if len(path) == 1:  # relative to the section: ``tls.verify`` under [[ils]]
                owners += [_child(m, path[0]) for m in models]
            known = any(o is not None and key in _fields(o) for o in owners)
        else:
            known = any(token in _fields(m) for m in [*models, Settings])
        if not known:
            unknown.append(f"{heading}: {token}")
    assert unknown == []


# Code named like a setting (module.function, object.method): not configuration.
_CODE = {"equipment.on_checked_in", "ill.on_checked_in", "driver.subscribe"}
_PACKAGES = ("bridge", "sip2", "ils_adapters", "lockers")


def _is_code(table: str, key: str) -> bool:
    """``module.name`` where one of our modules called ``table`` defines ``name``, or
    ``package.module`` where one of our packages called ``table`` holds ``module``."""
    if f"{table}.{key}" in _CODE:
        return True
    if any(next((REPO / package).rglob(f"{table}/{key}.py"), None) for package in _PACKAGES):
        return True
    pattern = re.compile(rf"^(?:async )?(?:def|class) {key}\b|^{key}\s*[:=]", re.M)
    return any(
        pattern.search(module.read_text())
        for package in _PACKAGES
        for module in (REPO / package).rglob(f"{table}.py")
    )


def _inline_settings() -> Iterator[tuple[Path, str, str]]:
    """``[table] key`` and ``table.key`` spans anywhere in the docs."""
    holders = _all_models()
    for doc in DOCS:
        text = doc.read_text()
        for table, key in re.findall(r"`(\[\[?[a-z_.]+\]\]?) ([a-z_]+)`", text):
            yield doc, table, key
        for table, key in re.findall(r"`([a-z_]+)\.([a-z_]+)`", text):
            if table in holders and not _is_code(table, key):
                yield doc, table, key


def test_every_setting_written_in_the_docs_exists() -> None:
    holders = _all_models()
    found = list(_inline_settings())
    assert found  # the reader found some
    unknown = []
    for doc, table, key in found:
        if table.startswith("["):
            model = _model_at(_table_path(table))
            ok = model is not None and key in _fields(model)
        else:
            ok = any(key in _fields(m) for m in holders[table])
        if not ok:
            unknown.append(f"{doc.relative_to(REPO)}: {table} {key}")
    assert unknown == []


def _check_toml(data: dict[str, Any], model: type[BaseModel], where: str) -> Iterator[str]:
    for key, value in data.items():
        if key not in _fields(model):
            yield f"{where}{key}"
            continue
        child = _child(model, key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if child is not None and isinstance(item, dict):
                yield from _check_toml(item, child, f"{where}{key}.")


def test_toml_in_the_docs_and_the_example_uses_only_known_settings() -> None:
    unknown = []
    blocks = [(EXAMPLE, EXAMPLE.read_text())]
    for doc in DOCS:
        blocks += [(doc, b) for b in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S)]
    for path, block in blocks:
        data = tomllib.loads(block)
        unknown += [f"{path.name}: {k}" for k in _check_toml(data, Settings, "")]
    assert unknown == []


def test_settings_commented_out_in_the_example_exist_in_their_table() -> None:
    model: type[BaseModel] | None = Settings
    seen = 0
    unknown = []
    for line in EXAMPLE.read_text().splitlines():
        header = re.match(r"\s*(\[\[?[a-z_.]+\]\]?)\s*(#.*)?$", line)
        if header:
            model = _model_at(_table_path(header.group(1)))
            continue
        commented = re.match(r"\s*#\s*([a-z_]+)\s*=", line)
        if commented and model is not None:
            seen += 1
            if commented.group(1) not in _fields(model):
                unknown.append(line.strip())
    assert seen >= 3 and unknown == []


# --- commands shown in the docs -----------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found = {o for a in parser._actions for o in a.option_strings}
    for sub in _subparsers(parser).values():
        found |= _options(sub)
    return found


def _shown_commands() -> Iterator[tuple[Path, list[str]]]:
    for doc in DOCS:
        text = doc.read_text()
        spans = re.findall(r"`(lockerbridge [^`\n]+)`", text)
        for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S):
            spans += [
                ln.strip() for ln in block.splitlines() if ln.strip().startswith("lockerbridge ")
            ]
        for span in spans:
            words = shlex.split(span.split("#")[0])
            yield doc, words[1:]


def test_every_lockerbridge_command_in_the_docs_exists() -> None:
    from sip2.acs.cli import build_parser as acs_parser
    from sip2.cli import build_parser as sip2_parser

    top = build_parser()
    commands = _subparsers(top)
    own = {
        "acs": _options(acs_parser()),
        "sip2": _options(sip2_parser()) | {"--bank", "--ils"},
    }
    shown = list(_shown_commands())
    assert len(shown) > 10
    wrong = []
    for doc, words in shown:
        while words and words[0] in ("-c", "--config"):
            words = words[2:]
        if not words:
            continue
        name, rest = words[0], words[1:]
        if name not in commands:
            wrong.append(f"{doc.name}: lockerbridge {' '.join(words)}")
            continue
        parser = commands[name]
        subs = _subparsers(parser)
        if subs and rest and not rest[0].startswith("-") and rest[0] not in subs:
            wrong.append(f"{doc.name}: lockerbridge {' '.join(words)}")
            continue
        allowed = own.get(name, _options(parser))
        for word in rest:
            if word.startswith("--") and word.split("=")[0] not in allowed:
                wrong.append(f"{doc.name}: lockerbridge {' '.join(words)} ({word})")
    assert wrong == []


@pytest.mark.parametrize(
    "doc", ["ils/koha.md", "ils/evergreen.md", "ils/folio.md", "operations.md"]
)
def test_the_guides_tell_sites_about_the_session_budget(doc: str) -> None:
    text = (REPO / "docs" / doc).read_text()
    assert "max_connections" in text and "check-config" in text

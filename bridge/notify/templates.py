"""Message templates: Jinja2 files per language, the library's own tried before ours.

Layout: ``<dir>/<lang>/<kind>.subject.j2``, ``.txt.j2``, ``.html.j2``, ``.sms.j2``; HTML
templates may extend ``layout.html.j2`` (at the top of the directory). The library's
``notifications.templates_dir`` has the same layout and wins file by file, so overriding one
message in one language needs one file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bridge.config import NotificationSettings
from bridge.notify import formats
from bridge.notify.errors import TemplateProblem
from bridge.notify.kinds import MessageKind

SHIPPED = Path(__file__).resolve().parent.parent / "templates" / "notify"
PARTS = ("subject", "txt", "html", "sms")


@dataclass(frozen=True)
class Rendered:
    """One message in one language, ready for the channels."""

    language: str
    subject: str
    text: str
    html: str
    sms: str


def language_candidates(preferred: Iterable[str | None]) -> list[str]:
    """``["es-ES", None, "en"]`` -> ``["es-ES", "es", "en"]`` (order kept, no repeats)."""
    out: list[str] = []
    for lang in preferred:
        if not lang:
            continue
        lang = lang.strip().replace("_", "-")
        for candidate in (lang, lang.split("-")[0].lower()):
            if candidate and candidate not in out:
                out.append(candidate)
    return out


@pass_context
def _long_date(ctx: Context, value: Any) -> str:
    return formats.long_date(formats.parse(value, ctx["timezone"]), ctx["language"])


@pass_context
def _time_of_day(ctx: Context, value: Any) -> str:
    return formats.time_of_day(formats.parse(value, ctx["timezone"]), ctx["language"])


class Templates:
    """Finds and renders the templates of one installation."""

    def __init__(self, settings: NotificationSettings) -> None:
        loaders = []
        if settings.templates_dir is not None:
            loaders.append(FileSystemLoader(str(settings.templates_dir)))
        loaders.append(FileSystemLoader(str(SHIPPED)))
        # Sandboxed: templates are edited by library staff, not programmers.
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["long_date"] = _long_date
        self.env.filters["time_of_day"] = _time_of_day

    def has(self, language: str, kind: MessageKind) -> bool:
        try:
            self.env.loader.get_source(self.env, _name(language, kind, "subject"))  # type: ignore[union-attr]
        except TemplateNotFound:
            return False
        return True

    def choose_language(self, kind: MessageKind, preferred: Iterable[str | None]) -> str:
        """The first preferred language this message exists in.

        Raises:
            TemplateProblem: none of them has the message.
        """
        candidates = language_candidates(preferred)
        for lang in candidates:
            if self.has(lang, kind):
                return lang
        raise TemplateProblem(
            _name(candidates[0] if candidates else "?", kind, "subject"),
            f"no template for this message in {', '.join(candidates) or 'any language'}",
        )

    def render(self, kind: MessageKind, language: str, context: Mapping[str, Any]) -> Rendered:
        """Renders all four parts. Raises TemplateProblem naming the broken file."""
        ctx = {**context, "language": language, "kind": kind.value}
        parts: dict[str, str] = {}
        for part in PARTS:
            name = _name(language, kind, part)
            try:
                parts[part] = self.env.get_template(name).render(ctx)
            except TemplateNotFound as exc:
                raise TemplateProblem(name, f"missing (needed: {exc.name})") from exc
            except TemplateSyntaxError as exc:
                raise TemplateProblem(
                    exc.name or name, f"line {exc.lineno}: {exc.message}"
                ) from exc
            except TemplateError as exc:
                raise TemplateProblem(name, str(exc)) from exc
            except Exception as exc:  # a filter given a bad value, etc.
                raise TemplateProblem(name, f"{type(exc).__name__}: {exc}") from exc
        return Rendered(
            language=language,
            subject=re.sub(r"\s+", " ", parts["subject"]).strip(),
            text=parts["txt"].strip() + "\n",
            html=parts["html"],
            sms=re.sub(r"[ \t]+", " ", parts["sms"]).strip(),
        )


def _name(language: str, kind: MessageKind, part: str) -> str:
    return f"{language}/{kind.value}.{part}.j2"

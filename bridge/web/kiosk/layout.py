"""What every kiosk page is rendered with: the patron's language, the library's branding and
the idle time-out (``templates/kiosk/base.html``). Shared by the kiosk's own pages and the
"not enrolled" page a browser that is no kiosk gets (:mod:`bridge.web.kiosk.identity`).
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from bridge.config import BankSettings
from bridge.web import branding, security
from bridge.web.kiosk.text import LANGUAGES, language, text
from bridge.web.kiosk.words import help_clause


def kiosk_language(bank: BankSettings) -> str:
    return language(request.values.get("lang"), bank.language)


def render_kiosk(template: str, bank: BankSettings, **context: Any) -> str:
    lang = kiosk_language(bank)
    rt = security.runtime()

    def t(key: str, **values: Any) -> str:
        return text(lang, key, **values)

    brand = branding.brand_for(rt.settings, bank)
    context.setdefault("simulated", False)
    return render_template(
        template,
        bank=bank,
        brand=brand,
        next_step=help_clause(lang, brand),  # the ``{help}`` of catalogue texts, at this bank
        lang=lang,
        languages=LANGUAGES,
        t=t,
        timeout=rt.settings.web.kiosk_timeout_seconds,
        **context,
    )

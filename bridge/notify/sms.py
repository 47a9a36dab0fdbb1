"""SMS through an HTTP gateway described in the configuration, not in code.

``notifications.sms`` gives the URL, the method, the headers (e.g. an Authorization), and a
Jinja2 body template that gets ``to``, ``text`` and ``sender``. With ``body_format = "json"``
the body is sent as application/json; with ``"form"`` the template renders
``a=1&b=2`` (use the ``urlencode`` filter) sent as a form, or as the query string with GET.
"""

from __future__ import annotations

import json

import requests
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bridge.config import SmsSettings
from bridge.notify.errors import CannotDeliver, TemplateProblem, TryAgainLater

TEMPLATE_NAME = "notifications.sms.body_template"
# Worth another go: timeouts, rate limits, server trouble, and credentials (staff can fix those).
RETRY_STATUSES = frozenset({401, 403, 408, 425, 429})


class SmsGateway:
    def __init__(self, settings: SmsSettings, http: requests.Session | None = None) -> None:
        self.settings = settings
        self.http = http or requests.Session()
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        try:
            self._body = env.from_string(settings.body_template)
        except TemplateError as exc:
            raise TemplateProblem(TEMPLATE_NAME, str(exc)) from exc

    def body(self, to: str, text: str) -> str:
        """Raises TemplateProblem when the template fails or JSON comes out invalid."""
        try:
            body = self._body.render(to=to, text=text, sender=self.settings.sender)
        except TemplateError as exc:
            raise TemplateProblem(TEMPLATE_NAME, str(exc)) from exc
        if self.settings.body_format == "json":
            try:
                json.loads(body)
            except ValueError as exc:
                raise TemplateProblem(TEMPLATE_NAME, f"does not render valid JSON: {exc}") from exc
        return body.strip()

    def send(self, to: str, text: str) -> None:
        """Raises TryAgainLater, CannotDeliver or TemplateProblem."""
        s = self.settings
        body = self.body(to, text)
        headers = dict(s.headers)
        url = s.url
        data: bytes | None = None
        if s.method == "GET":
            url = f"{url}{'&' if '?' in url else '?'}{body}"
        else:
            data = body.encode("utf-8")
            content_type = (
                "application/json; charset=utf-8"
                if s.body_format == "json"
                else "application/x-www-form-urlencoded"
            )
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = content_type
        try:
            reply = self.http.request(
                s.method, url, data=data, headers=headers, timeout=s.timeout_seconds
            )
        except requests.Timeout as exc:
            raise TryAgainLater(f"the SMS gateway timed out after {s.timeout_seconds:g} s") from exc
        except requests.RequestException as exc:
            raise TryAgainLater(
                f"the SMS gateway could not be reached: {type(exc).__name__}"
            ) from exc
        status = reply.status_code
        if 200 <= status < 300:
            return
        detail = reply.text[:120].replace("\n", " ")
        if status >= 500 or status in RETRY_STATUSES:
            raise TryAgainLater(f"the SMS gateway answered HTTP {status}: {detail}")
        raise CannotDeliver(f"the SMS gateway refused the message: HTTP {status}: {detail}")

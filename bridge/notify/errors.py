"""Why a message did not go, typed by what the job should do about it."""

from __future__ import annotations


class NotifyError(Exception):
    """Base of the errors below; catch a subclass."""


class TryAgainLater(NotifyError):
    """A server or gateway refused or timed out; nothing was delivered. Retry with backoff."""


class CannotDeliver(NotifyError):
    """No retry will help (invalid address, rejected by the gateway); staff must look."""


class InvalidAddress(CannotDeliver):
    """The email address or phone number from the ILS is not usable."""


class TemplateProblem(CannotDeliver):
    """A message template is missing or broken; the message names the template."""

    def __init__(self, template: str, detail: str) -> None:
        super().__init__(f"template {template}: {detail}")
        self.template = template

"""NCIP errors, typed by what the caller should do (they extend the adapter error tree)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ils_adapters.base import IlsError, IlsRejected

if TYPE_CHECKING:
    from ils_adapters.ncip.responses import NcipProblem


class NcipMalformed(IlsError):
    """The peer sent something that is not a usable NCIP message (its fault, not ours).

    ``service`` is set when the service is known, so a responder can answer inside that
    service's response with ``problem`` (by default "Needed Data Missing": a required element
    is absent), naming ``element`` and, where it helps, the offending ``value``. Without a
    service the message as a whole is unusable ("Invalid Message Syntax Error").
    """

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        element: str | None = None,
        problem: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.element = element
        self.value = value
        self.problem = problem or (
            "Needed Data Missing" if service is not None else "Invalid Message Syntax Error"
        )


class NcipRejected(IlsRejected):
    """The NCIP responder answered with one or more Problems; do not retry unchanged."""

    def __init__(self, service: str | None, problems: tuple[NcipProblem, ...]) -> None:
        first = problems[0] if problems else None
        summary = "; ".join(str(p) for p in problems) or "Problem without details"
        super().__init__(
            f"{service or 'NCIP'} refused: {summary}",
            screen_message=(first.detail or first.type) if first else None,
        )
        self.service = service
        self.problems = problems

    @property
    def problem_types(self) -> tuple[str, ...]:
        return tuple(p.type for p in self.problems)

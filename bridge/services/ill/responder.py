"""The NCIP handler one authenticated /ncip request (``bridge.web.ncip``) is answered with."""

from __future__ import annotations

from bridge.runtime import Runtime
from bridge.services.ill.accepting import accept_item
from bridge.services.ill.callers import Caller
from bridge.services.ill.cancelling import partner_check_in
from ils_adapters.ncip import (
    AcceptItemDone,
    AcceptItemRequest,
    CheckInItemDone,
    CheckInItemRequest,
    NcipProblem,
)

VERSIONS = (
    "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd",
    "http://www.niso.org/schemas/ncip/v2_0/ncip_v2_0.xsd",
)


class IllHandler:
    """``ils_adapters.ncip.NcipHandler`` for one authenticated /ncip request."""

    def __init__(self, rt: Runtime, caller: Caller) -> None:
        self.rt = rt
        self.caller = caller

    def accept_item(self, request: AcceptItemRequest) -> AcceptItemDone | NcipProblem:
        return accept_item(self.rt, request, self.caller)

    def check_in_item(self, request: CheckInItemRequest) -> CheckInItemDone | NcipProblem:
        return partner_check_in(self.rt, request, self.caller)

    def lookup_version(self) -> tuple[str, ...]:
        return VERSIONS

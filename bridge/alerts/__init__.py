"""Staff alerts: conditions that need a person, raised on the work list and sent to staff.

:mod:`bridge.alerts.rules` says which conditions hold now; :mod:`bridge.alerts.check` keeps one
open alert per condition (raised when it starts, cleared when it ends) and
:mod:`bridge.alerts.delivery` tells staff by e-mail and a signed JSON webhook.
"""

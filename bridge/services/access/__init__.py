"""Access beyond the keypad: phone links with kiosk presence codes, card and credential
readers, lost-code re-issue (docs/access.md).

Every way in ends in the same pickup service (``bridge.services.pickup``): checkout before any
door opens, guessing limits, audit. Nothing here opens a door from afar.
"""

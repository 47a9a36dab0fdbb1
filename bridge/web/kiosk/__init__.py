"""The kiosk's pages: one package per audience, like ``bridge.web.staff``."""

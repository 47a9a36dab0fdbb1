"""Flask blueprints, one per audience: health, api (kiosks/controllers), staff, kiosk, ncip."""

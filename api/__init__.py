"""The HTTP API: dependency aliases (``deps``), error handlers and error bodies (``errors``),
request and response models (``schemas``) and one router per area (``routes``). The
officers' console (pages, templates, static files) lives in ``web``."""

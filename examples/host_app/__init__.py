"""An example host: a small Flask application serving crmkit over HTTP.

`create_app` builds the application around a `crmkit.Crm` that the host opens
(the composition root); ``python -m examples.host_app`` runs it on 127.0.0.1.
See ``docs/extension/web-app.md``.
"""

from .app import create_app

__all__ = ["create_app"]

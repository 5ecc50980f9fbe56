"""Run the example host on 127.0.0.1: ``python -m examples.host_app [--db PATH] [--port N]``.

This is the composition root: it opens the one `Crm` (SQLite, with crmkit's
default role-based access policy), builds the application around it, and
closes it when the server stops. Flask's development server is for trying the
example, not for production (run ``create_app`` under a WSGI server there).
"""

from __future__ import annotations

import argparse

import crmkit
from crmkit.security.defaults import default_policy

from .app import create_app


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, open the CRM and serve it until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m examples.host_app", description=__doc__)
    parser.add_argument("--db", default="crmkit-host.db", help="the SQLite file (created)")
    parser.add_argument("--port", type=int, default=5000, help="the port on 127.0.0.1")
    args = parser.parse_args(argv)
    crm = crmkit.open(f"sqlite:///{args.db}", access=default_policy())
    try:
        create_app(crm).run(host="127.0.0.1", port=args.port)
    finally:
        crm.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

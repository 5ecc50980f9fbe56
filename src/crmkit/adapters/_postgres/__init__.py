"""The parts of the PostgreSQL adapter; its one public path is `crmkit.adapters.postgres`.

Nothing here is public API. `crmkit.adapters.postgres` keeps the connections
and `PostgresStore`, and leans on these modules, each one idea:

* `schema`: the layout, created or extended when a store opens;
* `kinds`: the statements over one kind's table;
* `query`: a `Query` translated to one SELECT with bound parameters;
* `commit`: a `ChangeSet` applied in one transaction, and the diagnosis of
  the first failure when a check fails;
* `events` and `outbox`: the event log and the outbox tables;
* `errors`: driver errors turned into crmkit's error tree.

Like every adapter, they import the ports, the kernel and psycopg only (and
the driver-free helpers in `crmkit.adapters._common`).
"""

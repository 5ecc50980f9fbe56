"""The parts of the SQLite adapter; its one public path is `crmkit.adapters.sqlite`.

Nothing here is public API. `crmkit.adapters.sqlite` keeps the connections and
`SqliteStore`, and leans on these modules, each one idea:

* `schema`: the file's layout, created or extended when a store opens;
* `kinds`: the statements over one kind's table, and how index values
  travel as JSON in its ``_index`` column;
* `query`: a `Query` translated to one SELECT with bound parameters;
* `commit`: a `ChangeSet` applied in one transaction, and the diagnosis of
  the first failure when a check fails;
* `events` and `outbox`: the event log and the outbox tables;
* `errors`: driver errors turned into crmkit's error tree.

Like every adapter, they import the ports, the kernel and ``sqlite3`` only,
plus the driver-free helpers the SQL adapters share (`crmkit.adapters._common`
and `crmkit.adapters._sql`).
"""

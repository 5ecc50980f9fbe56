"""The audit trail: field-level change records in a hash chain that survives erasure."""

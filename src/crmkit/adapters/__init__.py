"""crmkit adapters."""

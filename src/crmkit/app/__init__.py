"""crmkit app."""

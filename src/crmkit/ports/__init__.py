"""crmkit ports."""

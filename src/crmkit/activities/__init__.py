"""crmkit activities."""

"""crmkit kernel."""

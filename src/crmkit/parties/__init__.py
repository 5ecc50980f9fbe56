"""crmkit parties."""

"""crmkit testing."""

"""Extension by the host without a fork: automation rules and other host-configured data."""

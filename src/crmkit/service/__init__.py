"""Service: complaints, service cases, SLA policies on business calendars, knowledge articles."""

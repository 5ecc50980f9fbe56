"""Analytical CRM: pipeline, forecast, funnel, customer value, service quality and campaign ROI."""

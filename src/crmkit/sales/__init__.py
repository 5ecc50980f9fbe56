"""Sales: leads and their scoring, opportunities and pipelines, products, quotes and contracts."""

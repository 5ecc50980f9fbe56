"""Marketing: campaigns, their members and responses, segments, journeys and attribution."""

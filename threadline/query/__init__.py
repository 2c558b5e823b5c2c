"""The read side: persons, timelines, explain, companies, events, insights, and the query API."""

"""The web dashboard: server-rendered pages over the query functions, behind a login."""

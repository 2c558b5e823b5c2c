"""Storage: the Store protocol, the embedded DuckDB store and its single writer."""

"""The identity engine: evidence edges, the pure resolution rules, the incremental resolver."""

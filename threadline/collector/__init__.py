"""The collector: HTTP surfaces that take events in, one adapter per wire format."""

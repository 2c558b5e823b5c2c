"""Threadline: self-hosted identity resolution and product analytics."""

__version__ = "0.1.0"

"""A small multi-page test site for the browser tracker's end-to-end tests."""

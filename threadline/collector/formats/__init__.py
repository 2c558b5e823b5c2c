"""Wire-format adapters: each maps its requests onto canonical :class:`Message` values."""

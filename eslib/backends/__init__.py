"""Storage backends. Each module implements :class:`eslib.backends.base.Backend`."""

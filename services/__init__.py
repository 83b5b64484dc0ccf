"""One folder per kind of process; no service imports another. They talk through Redis and MongoDB."""

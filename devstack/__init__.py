"""One machine for dev, demo, tests and bench: stack starter, supervisor, embedded stand-in, feed server, sample feeds."""

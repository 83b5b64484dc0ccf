"""The `job-importer` command: wires the core, the services and the dev stack together."""

"""Shared core of job-importer: the message contract, settings, broker setup and run history."""

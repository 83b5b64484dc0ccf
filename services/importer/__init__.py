"""The importer service: writes chunks of job items to MongoDB and keeps the run history exact."""

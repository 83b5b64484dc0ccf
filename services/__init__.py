"""The two services of job-importer; they talk only through the Redis broker."""

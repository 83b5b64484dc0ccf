"""The scheduler process: one fetch per feed per cron slot."""

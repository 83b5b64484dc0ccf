"""The fetcher service: fetches feeds, normalises items and sends them to the importer in chunks."""

"""The fetcher service's HTTP API and admin UI (FastAPI)."""

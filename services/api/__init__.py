"""The HTTP API and admin UI (FastAPI): its own process, its own Deployment."""

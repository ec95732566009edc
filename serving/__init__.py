"""Scoring shared by the batch job and the API, the score store, the HTTP API and the CSM page."""

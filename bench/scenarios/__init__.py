"""The scenarios `bench/serve.py` runs on the harness: the scratch workspace and request
bodies, the HTTP load phases, the batch scoring run and the in-process profiles."""

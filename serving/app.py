"""The ASGI app uvicorn imports (`serving.app:app`), built from the environment's settings."""

from serving.api import create_app

app = create_app()

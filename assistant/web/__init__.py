"""The web layer: JSON API, Gradio chat UI and the embeddable page, served by one FastAPI app."""

from .server import build_app, create_app

__all__ = ["build_app", "create_app"]

"""The HTTP layer: the FastAPI app, request dependencies, error handling and thin routes."""

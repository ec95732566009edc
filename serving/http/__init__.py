"""The HTTP API's documented shapes: response models, errors and the OpenAPI document."""

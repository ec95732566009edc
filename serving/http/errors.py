"""One error body for every error the API sends, and what each status means per route.

Every 4xx and 5xx answer is `ErrorOut`: `detail` says what is wrong and how to fix it;
`problems` lists each invalid field of a malformed request (422 only). FastAPI's own
`HTTPValidationError` is never sent, so it is never documented either.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    where: str = Field(description="The invalid part, e.g. `body.accounts.0.as_of`.")
    problem: str = Field(description="What is wrong with it.")


class ErrorOut(BaseModel):
    """Every error answer of the API."""

    detail: str = Field(description="What is wrong and how to fix it.")
    problems: list[Problem] | None = Field(
        default=None, description="Each invalid field of a malformed request (422 only).")


MEANINGS = {
    400: "The body is not JSON that can be read.",
    401: "No API key, or one that is unknown, expired or revoked. Send "
         "`Authorization: Bearer <key>`.",
    403: "The key's role may not call this route.",
    404: "Nothing with that id is stored, or it is outside the key's book.",
    409: "The request conflicts with what is stored: a reload that failed (the previous "
         "model keeps serving), or an action on an alert that is resolved already.",
    413: "The request body is larger than the service accepts.",
    422: "The request does not match this route's parameters or body, or the features "
         "do not match the model's; `detail` and `problems` say what to change.",
    503: "Not ready: no model is loaded yet, or the score store cannot be reached.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of the given error statuses, all `ErrorOut`."""
    return {status: {"model": ErrorOut, "description": MEANINGS[status]}
            for status in statuses}

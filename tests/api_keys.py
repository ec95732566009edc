"""API keys the serving tests configure, and the header that presents one."""

from __future__ import annotations

KEYS = {
    "scorer": "scorer-key-0123456789abcdef",
    "viewer": "viewer-key-0123456789abcdef",
    "admin": "admin-key-0123456789abcdef0",
}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}

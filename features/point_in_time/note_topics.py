"""Churn-precursor events a CSM writes down, found in note text by phrase.

CSM notes carry a sentiment, but the events behind a turn for the worse are in the words:
the champion leaving, a product that no longer fits the customer's workflow, an incident,
an onboarding that stalled, a budget cut. These events keep weighing on an account for
months after the sentiment of later notes has moved on, so "days since the CSM last noted one" is a
longer-horizon signal than the latest sentiment.

Matching is deliberately plain: a note is about a topic when its text contains one of the
topic's phrases, ignoring case. It does not understand negation ("no incident this
quarter" counts as an incident); extend the phrases here when your CSMs write these
events differently, and retrain.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

NOTE_TOPICS: Final[dict[str, tuple[str, ...]]] = {
    "champion_left": ("champion has left", "champion left", "sponsor has left",
                      "sponsor left", "main contact has left", "main contact left"),
    "product_fit": ("no longer fits", "no longer fit", "does not fit", "doesn't fit",
                    "not a good fit", "poor fit"),
    "incident": ("incident", "outage"),
    "onboarding_stalled": ("onboarding stalled", "onboarding has stalled",
                           "onboarding is stalled", "stuck in onboarding"),
    "budget": ("budget freeze", "budget cut", "cost cutting", "cutting costs",
               "reviewing every tool", "spending freeze"),
}
"""Topic name (as in the feature names) → the phrases that mark a note as about it."""

TOPIC_WORDS: Final[dict[str, str]] = {
    "champion_left": "the champion leaving",
    "product_fit": "a product-fit problem",
    "incident": "an incident",
    "onboarding_stalled": "a stalled onboarding",
    "budget": "a budget cut",
}


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE)


_PATTERNS: Final = {topic: _pattern(phrases) for topic, phrases in NOTE_TOPICS.items()}


def topic_flags(texts: pd.Series) -> dict[str, np.ndarray]:
    """Per topic, a boolean per note: does its text name the topic? Missing text: no.

    Notes repeat their wording often (templates, copied lines), so each distinct text is
    matched once.
    """
    codes, distinct = pd.factorize(texts.astype("object"), use_na_sentinel=True)
    out = {}
    for topic, pattern in _PATTERNS.items():
        hit = np.fromiter((pattern.search(str(t)) is not None for t in distinct), dtype=bool,
                          count=len(distinct))
        out[topic] = np.append(hit, False)[codes]  # code -1 (missing) reads the False
    return out

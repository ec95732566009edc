"""Seeded fake names: companies, people and industries from small word lists.

Names only have to look plausible on a CSM's screen and be reproducible; they carry
no signal. Lists are fixed here (no network, no faker dependency).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_COMPANY_FIRST = (
    "Acme", "Blue", "North", "Bright", "Cedar", "Summit", "Harbor", "Iron", "Silver", "Maple",
    "Granite", "Pioneer", "Apex", "Lumen", "Vertex", "Atlas", "Nimbus", "Orchid", "Quarry",
    "Redwood", "Sierra", "Tidal", "Union", "Vista", "Willow", "Zenith", "Beacon", "Copper",
    "Delta", "Ember", "Falcon", "Golden", "Horizon", "Juniper", "Keystone", "Lakeside",
    "Meridian", "Nova", "Oak", "Polar", "Quantum", "River", "Stone", "Terra", "Urban",
)  # fmt: skip
_COMPANY_SECOND = (
    "Analytics", "Logistics", "Health", "Labs", "Systems", "Foods", "Energy", "Partners",
    "Retail", "Robotics", "Media", "Capital", "Works", "Dynamics", "Networks", "Bio",
    "Freight", "Studios", "Software", "Supply", "Insights", "Cloud", "Finance", "Motors",
)  # fmt: skip
_COMPANY_FORM = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co", "SA", "BV", "Pty")

_FIRST_NAMES = (
    "Alex", "Priya", "Jordan", "Maria", "Wei", "Fatima", "Lucas", "Aisha", "Noah", "Elena",
    "Kenji", "Sofia", "Omar", "Hannah", "Diego", "Mei", "Samuel", "Chloe", "Ravi", "Laura",
    "Tomasz", "Ingrid", "Kwame", "Yuki", "Gabriel", "Nadia", "Liam", "Zara", "Mateo", "Anika",
)  # fmt: skip
_LAST_NAMES = (
    "Nguyen", "Smith", "Patel", "Garcia", "Müller", "Kim", "Rossi", "Okafor", "Johansson",
    "Silva", "Chen", "Kowalski", "Haddad", "Tanaka", "Dubois", "Novak", "Mensah", "Larsen",
    "Costa", "Ahmed", "Fischer", "Moreau", "Ivanova", "Singh", "Brown", "Santos", "Berg",
)  # fmt: skip

INDUSTRIES = (
    "software", "financial_services", "healthcare", "retail", "manufacturing", "education",
    "media", "logistics", "professional_services", "nonprofit",
)  # fmt: skip
INDUSTRY_WEIGHTS = (0.22, 0.12, 0.1, 0.1, 0.1, 0.08, 0.07, 0.07, 0.1, 0.04)


def company_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` company names like "Cedar Analytics Inc"; repeats get a roman suffix."""
    first = rng.integers(len(_COMPANY_FIRST), size=n)
    second = rng.integers(len(_COMPANY_SECOND), size=n)
    form = rng.integers(len(_COMPANY_FORM), size=n)
    names: list[str] = []
    seen: dict[str, int] = {}
    for a, b, c in zip(first, second, form, strict=True):
        name = f"{_COMPANY_FIRST[a]} {_COMPANY_SECOND[b]} {_COMPANY_FORM[c]}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name} ({count + 1})")
    return names


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct "First Last" names; beyond the list product they get a number."""
    total = len(_FIRST_NAMES) * len(_LAST_NAMES)
    rounds = -(-n // total)
    picks: npt.NDArray[np.int64] = np.concatenate([rng.permutation(total) for _ in range(rounds)])
    names = []
    for i, p in enumerate(picks[:n]):
        name = f"{_FIRST_NAMES[p // len(_LAST_NAMES)]} {_LAST_NAMES[p % len(_LAST_NAMES)]}"
        names.append(name if i < total else f"{name} {i // total + 1}")
    return names

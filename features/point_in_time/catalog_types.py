"""The shape of one feature declaration (the declarations are in `catalog_entries`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

FAMILIES = ("usage", "support", "sentiment", "contract")
DTYPES = ("float64", "int32", "category")
DIRECTIONS = ("higher", "lower", "category")
KEY = "<key>"


@dataclass(frozen=True)
class Feature:
    """One model feature: what it is, where it comes from and how to say it in words.

    `table` is the optional source table the feature is computed from (None: built from
    accounts and subscriptions, always present). `direction` is the expected risk
    direction — "higher" when a higher value should mean more risk, "lower" when a lower
    one should — used for wording and behavioural checks, never enforced on the model.
    `categories` fixes a categorical's levels; None takes them from the data. `missing`
    is the sentence when the row's own value is missing ("never used", "no answer yet"),
    a template over the rest of the row; empty where the value is never missing.
    `signal` is the fact it is one reading of (`point_in_time.signals`).
    """

    name: str
    family: str
    table: str | None
    dtype: str
    unit: str
    direction: str
    description: str
    template: str
    categories: tuple[str, ...] | None = None
    missing: str = ""
    signal: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}")
        if self.dtype not in DTYPES:
            raise ValueError(f"{self.name}: dtype must be one of {DTYPES}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.name}: direction must be one of {DIRECTIONS}")
        if (self.dtype == "category") != (self.direction == "category"):
            raise ValueError(f"{self.name}: categoricals, and only they, have direction "
                             "'category'")

    @property
    def per_key(self) -> bool:
        """Declared once, built once per key product feature."""
        return KEY in self.name

    def for_key(self, key: str) -> Feature:
        """The declaration for one key product feature."""
        words = key.replace("_", " ")
        return replace(self, name=self.name.replace(KEY, key),
                       description=self.description.replace(KEY, words),
                       template=self.template.replace(KEY, words),
                       missing=self.missing.replace(KEY, words))

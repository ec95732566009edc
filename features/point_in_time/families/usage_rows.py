"""Usage events as compact integer arrays keyed by (event-type slot, account, day).

Raw usage can be tens of millions of rows, so it is encoded once: every usage feature
asks about whole days (snapshots are at 00:00 UTC), times become day numbers, accounts
their spine codes and event types a *slot*: login, session_minutes, one slot per key
product feature, and one for all other product features. Rows with a quantity of zero
or less record nothing and are dropped, as are rows of accounts unknown to the spine.

Groups are slot-major (`slot * n_accounts + account`): usage exported in account and
time order then needs only a cheap stable pass by slot to be fully sorted.

No usage feature looks back more than `LOOKBACK_DAYS` from its as_of, except "days since
the last use", which needs only each group's latest day. So rows older than that before
the spine's earliest as_of are dropped, except those on their group's latest day: a
scoring frame at one as_of then works on months of usage, not years, with the same
features (a test compares both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.point_in_time.catalog import key_name
from features.point_in_time.spine import Spine, timestamps_ns
from features.sources.contract import DAY_NS, LOGIN, SESSION_MINUTES
from features.sources.usage_reach import NO_USE, note_last_uses, within_reach

LOGIN_SLOT, MINUTES_SLOT, FIRST_KEY_SLOT = 0, 1, 2
LOOKBACK_DAYS = 90  # the longest window of any usage feature (families.usage)


@dataclass(frozen=True)
class UsageRows:
    """Usage rows in slot order, plus the login rows that name a user."""

    n_slots: int
    n_accounts: int
    groups: np.ndarray  # int64 slot * n_accounts + account
    days: np.ndarray  # int64 days since the epoch
    amounts: np.ndarray  # float64 quantity
    login_accounts: np.ndarray  # int64, one per login row with a user
    login_users: np.ndarray  # int64 user code, unique across accounts
    login_days: np.ndarray  # int64
    login_amounts: np.ndarray  # float64 sessions of each login row with a user

    @property
    def other_slot(self) -> int:
        return self.n_slots - 1

    @property
    def key_slots(self) -> range:
        return range(FIRST_KEY_SLOT, self.n_slots - 1)

    def group(self, accounts: np.ndarray, slot: int) -> np.ndarray:
        return slot * self.n_accounts + accounts


def slot_of_types(categories: pd.Index, key_features: Sequence[str]) -> np.ndarray:
    """The slot of each event-type category (see the module docstring)."""
    key_slot = {key: FIRST_KEY_SLOT + i for i, key in enumerate(key_features)}
    other = FIRST_KEY_SLOT + len(key_features)
    fixed = {LOGIN: LOGIN_SLOT, SESSION_MINUTES: MINUTES_SLOT}
    return np.array([fixed.get(str(c), key_slot.get(key_name(str(c)), other))
                     for c in categories], dtype=np.int16)


def usage_rows(spine: Spine, usage: pd.DataFrame, key_features: Sequence[str]) -> UsageRows:
    n_slots = FIRST_KEY_SLOT + len(key_features) + 1
    n_accounts = len(spine.accounts)
    type_codes, type_names = pd.factorize(usage["event_type"])
    slots = np.append(slot_of_types(pd.Index(type_names), key_features), -1)[type_codes]
    del type_codes
    accounts = spine.encode(usage["account_id"])
    keep = (accounts >= 0) & (slots >= 0) & (usage["quantity"].to_numpy() > 0)
    all_days = timestamps_ns(usage["timestamp"]) // DAY_NS
    if len(spine):
        keep = _within_reach(keep, all_days, slots.astype(np.int64) * n_accounts + accounts,
                             int(spine.as_of_days.min()) - LOOKBACK_DAYS, n_slots * n_accounts)
    kept = np.flatnonzero(keep)
    del keep
    # Stable by slot: rows already in (account, time) order end up in (group, day) order.
    kept = kept[np.argsort(slots[kept], kind="stable")]
    days = all_days[kept]
    del all_days
    accounts = accounts[kept]
    slots = slots[kept]
    groups = slots.astype(np.int64) * n_accounts + accounts
    amounts = usage["quantity"].to_numpy(dtype=np.float64)[kept]

    login = slots == LOGIN_SLOT
    user_codes, user_names = pd.factorize(usage["user_id"].iloc[kept[login]])
    has_user = user_codes >= 0
    login_accounts = accounts[login][has_user]
    # Users are told apart within an account: the same user_id in two accounts is two users.
    login_users = login_accounts * max(len(user_names), 1) + user_codes[has_user]
    return UsageRows(n_slots, n_accounts, groups, days, amounts, login_accounts,
                     login_users, days[login][has_user], amounts[login][has_user])


def _within_reach(keep: np.ndarray, days: np.ndarray, groups: np.ndarray, first_day: int,
                  n_groups: int) -> np.ndarray:
    """The rows of `keep` some feature can see (`usage_reach.within_reach`): on or after
    `first_day`, or on the latest day of their group before it."""
    if not (keep & (days < first_day)).any():
        return keep
    latest = np.full(n_groups, NO_USE)
    note_last_uses(latest, groups, days, keep, first_day)
    return keep & within_reach(days, groups, latest, first_day, 1, among=keep)

"""A seeded simulator of a B2B SaaS customer base: churnlens's default data.

Accounts in segments sign contracts, use the product, open tickets, answer surveys and
get CSM notes, all driven by a hidden per-account health process with shocks; renewals
are decided from health near renewal plus unforeseeable churn. The six source tables
follow the data contract; ``_truth/`` holds what no model may see: per term the true
churn probability at the renewal decision and its cause, the shocks, and per term and
monthly snapshot date the true risk as of that date (`risk`: what an all-knowing model
could say then, without the future).

An account's baseline health has facets (`events.FACETS`: engagement, adoption,
relationship, support), each shown mainly by its own signals, so weak accounts are weak
in different ways; a shock's drop in health, too, shows mostly in its own channels.
Every shock also leaves its own fingerprint in the signals (`fingerprints`): a departing
champion is the power user going silent and a successor ramping up, and the successor
re-opens the buying decision (a churn chance of its own); a product-fit problem wears
down the main workflow features and brings detractor comments naming the workflow;
poor onboarding activates seats slowly; a support crisis is a ticket surge; a budget cut
switches users off and is sometimes noted; an acquisition leaves nothing.
``_truth/terms`` lists per term the fingerprints present before its renewal.

    from features.simulator import SimulationConfig, simulate
    summary = simulate(SimulationConfig(n_accounts=1000, seed=7), Path("data"))
"""

from features.simulator.config import SimulationConfig
from features.simulator.events import EVENT_TYPES, KEY_FEATURES, LOGIN, SESSION_MINUTES
from features.simulator.runner import SimulationSummary, Truth, simulate, simulate_truth

__all__ = [
    "EVENT_TYPES",
    "KEY_FEATURES",
    "LOGIN",
    "SESSION_MINUTES",
    "SimulationConfig",
    "SimulationSummary",
    "Truth",
    "simulate",
    "simulate_truth",
]

"""Fuzz campaigns: named scenario family x scheduler family x target, run with workers on a persistent corpus.

The public facade: `CAMPAIGNS` (the named campaigns), `run_campaign(FuzzOptions(...))` which returns a
`FuzzSummary`, and `format_summary`. See `catalogue` (what a campaign is), `targets` (model and port
executions), `coverage` (features and steering), `engine` (one lane's loop), `runner` (workers,
progress, statistics) and `other` (`--runtime`: the other runtimes' ports).
"""

from fuzz.campaigns.catalogue import CAMPAIGNS, FAMILIES, Arm, Campaign, get_campaign
from fuzz.campaigns.runner import (
    FuzzOptions,
    FuzzSummary,
    default_workers,
    format_summary,
    parse_budget,
    run_campaign,
)

__all__ = [
    "CAMPAIGNS",
    "FAMILIES",
    "Arm",
    "Campaign",
    "FuzzOptions",
    "FuzzSummary",
    "default_workers",
    "format_summary",
    "get_campaign",
    "parse_budget",
    "run_campaign",
]

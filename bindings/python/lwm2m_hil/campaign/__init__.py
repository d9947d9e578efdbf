"""Campaigns: many seeded runs over a matrix of settings, run on Dask,
merged into devices.jsonl, results.json, junit.xml and report.html.

``lwm2m-hil campaign run campaign.toml --out DIR`` is the command line;
:func:`load` and :func:`run_campaign` the same from Python.
"""

from .spec import Campaign, CampaignError, load, parse


def run_campaign(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`lwm2m_hil.campaign.runner.run_campaign` (imported on use:
    Dask is only needed when a campaign runs)."""
    from .runner import run_campaign as run

    return run(*args, **kwargs)


__all__ = ["Campaign", "CampaignError", "load", "parse", "run_campaign"]

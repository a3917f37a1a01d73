"""Every vigilance operation: the only writer of recalls, notices and reaction reports.

`recall` (the QP's recall, notices and their mail), `lookback` (reads), `sites` (which
hospitals a recall concerns), `reactions` (notification parts A and B), `expiry` (bags
past their expiry), `worklist` (what the worklists show).
"""

from vigilance.services.expiry import expire_bags
from vigilance.services.lookback import exposed_patients, lookback
from vigilance.services.reactions import part_a_initial, submit_part_a, submit_part_b
from vigilance.services.recall import (
    acknowledge_notice,
    notice_text,
    recall_batch,
    send_recall_notices,
)
from vigilance.services.sites import Site, concerned_sites
from vigilance.services.worklist import (
    expiring_stock,
    overdue_reactions,
    recall_notices,
    stopped_doses,
)

__all__ = [
    "Site",
    "acknowledge_notice",
    "concerned_sites",
    "expire_bags",
    "expiring_stock",
    "exposed_patients",
    "lookback",
    "notice_text",
    "overdue_reactions",
    "part_a_initial",
    "recall_batch",
    "recall_notices",
    "send_recall_notices",
    "stopped_doses",
    "submit_part_a",
    "submit_part_b",
]

"""Vigilance pages under /vigilance/: recalls and their lookback, reaction notifications."""

from vigilance.views.reactions import part_a, part_b, report_detail, report_pdf
from vigilance.views.recalls import notice_acknowledge, recall_list, recall_lookback

__all__ = [
    "notice_acknowledge",
    "part_a",
    "part_b",
    "recall_list",
    "recall_lookback",
    "report_detail",
    "report_pdf",
]

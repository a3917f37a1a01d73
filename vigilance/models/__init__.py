"""Vigilance records: recalls and their notices, serious adverse reaction reports."""

from vigilance.models.reactions import ReactionReport
from vigilance.models.recalls import Recall, RecallNotice

__all__ = ["Recall", "RecallNotice", "ReactionReport"]

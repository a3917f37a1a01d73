"""The production tool: donors, batches, checks, bags and the QP's signed decision.

Every admin write reaches the audit trail with the logged-in user as actor. Records a QP
has decided on (and the donor data behind them) ask for a written reason before any
change; state changes (submit, release, reject, bag creation) go through the services.

One module per noun; importing them registers their admins. The GMP facility's admin
is in `sites.admin`.
"""

from batches.admin import bags, batches, donors, signing, specifications  # noqa: F401

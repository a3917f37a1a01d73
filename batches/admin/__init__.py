"""The production tool: donors, batches, checks, bags and the QP's signed decision.

Every admin write goes through `batches.services` (the shared base is
`audit.admin.AuditedAdmin`, which never saves a record itself), so it reaches the audit
trail with the logged-in user as actor and the reason typed. Records a QP has decided on
(and the donor data behind them) ask for a written reason before any change.

One module per noun; importing them registers their admins. The GMP facility's admin
is in `sites.admin`.
"""

from batches.admin import (  # noqa: F401
    bags,
    batches,
    donors,
    release_checks,
    shipments,
    signing,
    specifications,
)

"""Who may do what with production records (see docs/permissions.md)."""

# The GMP facility's permissions are in sites/roles.py.
_MODELS = [
    "donor",
    "serologyresult",
    "procurement",
    "releasespecification",
    "specificationitem",
    "batch",
    "releasecheck",
    "assaymethod",
    "storagelocation",
    "bag",
    "bagevent",
    "shipment",
    "shipmentbag",
    "shipmentrequest",
]
# Shipments are seen at both ends: the hospital's pharmacy receives and requests them.
_SHIPMENT_MODELS = ["shipment", "shipmentbag", "shipmentrequest"]


def _perms(actions, models=_MODELS):
    return {f"batches.{action}_{model}" for action in actions for model in models}


ROLE_PERMISSIONS = {
    "production": _perms(["view", "add", "change"])
    - {"batches.add_bagevent", "batches.change_bagevent"},
    "qp": _perms(["view"]) | {"batches.release_batch"},
    "pharmacy": _perms(
        ["view"],
        [
            "batch",
            "releasecheck",
            "bag",
            "bagevent",
            "storagelocation",
            "specificationitem",
            *_SHIPMENT_MODELS,
        ],
    )
    | {"batches.receive_shipment", "batches.request_shipment"},
    "clinician": _perms(["view"], ["batch", "bag", "bagevent"]),
    "auditor": _perms(["view"]),
}

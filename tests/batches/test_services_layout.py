"""The production services stay in short modules (STYLE.md: a module past ~400 lines is
split) and every public name stays importable from `batches.services`."""

from pathlib import Path

import batches.services as services

SERVICES = Path(services.__file__).parent
LIMIT = 400


def test_every_services_module_is_short_enough_to_read():
    long = {
        path.name: n
        for path in SERVICES.glob("*.py")
        if (n := len(path.read_text().splitlines())) > LIMIT
    }
    assert not long, f"split these modules (over {LIMIT} lines): {long}"


def test_every_public_name_is_importable_from_batches_services():
    missing = [name for name in services.__all__ if not hasattr(services, name)]
    assert not missing
    for name in (
        "create_shipment",
        "dispatch_shipment",
        "receive_shipment",
        "decide_excursion",
        "request_shipment",
        "answer_request",
    ):
        assert name in services.__all__
        assert callable(getattr(services, name))

"""factory_boy factories, one module per app, all importable from `tests.factories`."""

from tests.factories.batches import *  # noqa: F403
from tests.factories.dosing import *  # noqa: F403
from tests.factories.network import *  # noqa: F403
from tests.factories.patients import *  # noqa: F403
from tests.factories.shipments import *  # noqa: F403
from tests.factories.sites import *  # noqa: F403

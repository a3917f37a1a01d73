import pytest

from tests.factories import HospitalFactory


@pytest.fixture(autouse=True)
def default_hospital(request):
    """The hospital the patients of these tests are registered at (HUS), made before a
    test counts records or events."""
    if "db" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return None
    request.getfixturevalue("db")
    return HospitalFactory()

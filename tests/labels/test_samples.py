"""Sample documents for people to look at: written to tests/labels/output/ (ignored by
git), each PDF with a PNG of its first page. Regenerated on every run."""

from pathlib import Path

import pytest

from labels.bag import bag_labels_pdf
from labels.sheet import dispensing_sheet_pdf
from labels.storage import location_parts, storage_labels_pdf
from labels.wristband import wristband_pdf
from tests.dosing.flow import dispensed_thawed
from tests.labels.reading import barcodes, page_images

pytestmark = pytest.mark.django_db

OUTPUT = Path(__file__).parent / "output"


def write(name: str, content: bytes) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.pdf"
    path.write_bytes(content)
    page_images(content, dpi=200)[0].save(OUTPUT / f"{name}.png")
    return path


def test_write_sample_documents(protocol, patient, stock, pharmacist, star_bag):
    dose = dispensed_thawed(patient, pharmacist)
    bag = dose.dose_bags.select_related("bag__batch__facility").get().bag
    samples = {
        "bag-label": bag_labels_pdf([star_bag], title=f"Bag label {star_bag.code}"),
        "dispensing-sheet": dispensing_sheet_pdf(dose, printed_by=pharmacist),
        "wristband": wristband_pdf(patient),
        "storage-position": storage_labels_pdf(
            [location_parts(star_bag.location)], title="Storage position"
        ),
        "bag-label-dispensed": bag_labels_pdf([bag], title=f"Bag label {bag.code}"),
    }
    for name, content in samples.items():
        path = write(name, content)
        assert path.stat().st_size > 1000
        assert all(page for page in barcodes(content)), name  # every page has its symbols

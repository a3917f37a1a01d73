"""Demo production data mirroring the paper (Sánchez-Guijo et al., EClinicalMedicine 2020).

Three GMP facilities (Salamanca, Navarra, Marañón) producing AT-MSC under IMPD PEI-15-103;
five eligible donors, each with dated serology and a liposuction of about 100 ml (≈ 50 g of
fat); release specification v1 with every check the paper and GMP practice name; five
released batches of 12 bags, one per donor (60 bags of 50–75 ×10⁶ cells, ~20 ml: the
13-patient, 25-dose cohort's cells came from the 5 donors, with spare stock), one batch
from a donor's second liposuction rejected for a failed CD105 (its failing check is on the
batch page), and one new batch in quarantine that a user can release as the QP. Each
2020 step is placed in time (`at=`): bags frozen, then the QP's release or rejection three
weeks later, before any shipment of the series. Every record is made through the services
(`batches.services`, `sites.services`), so the audit trail and the signatures are real.

Facility identification numbers are invented. The 2019–2020 batches carry a 10-year shelf
life, a demo assumption so that their bags can still be allocated today.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from batches import services
from batches.isbt import make_din
from batches.models import SerologyResult, SpecificationItem
from sites import services as site_services
from sites.models import Facility

DEMO_QP_PASSWORD = "celltrack-demo"
IMPD = "PEI-15-103"
# The reason on the trail of every demo record (the command's own audit context says so).
DEMO_REASON = "demo data"

FACILITIES = [
    ("ESSAL", "Hospital Universitario de Salamanca — Unidad de Producción Celular", "Salamanca"),
    ("ESNAV", "Clínica Universidad de Navarra — Unidad de Terapia Celular", "Navarra"),
    ("ESMAR", "Hospital General Universitario Gregorio Marañón — Sala GMP", "Marañón"),
]

# category, parameter, kind, limit or expected result, unit
SPEC_V1 = [
    ("morphology", "Morphology", "expected", "plastic-adherent", ""),
    ("immunophenotype", "CD73", "min", "95", "%"),
    ("immunophenotype", "CD90", "min", "95", "%"),
    ("immunophenotype", "CD105", "min", "95", "%"),
    ("immunophenotype", "CD45", "max", "2", "%"),
    ("immunophenotype", "CD34", "max", "2", "%"),
    ("immunophenotype", "CD14", "max", "2", "%"),
    ("immunophenotype", "CD19", "max", "2", "%"),
    ("immunophenotype", "HLA-DR", "max", "2", "%"),
    ("differentiation", "Osteogenic", "expected", "positive", ""),
    ("differentiation", "Adipogenic", "expected", "positive", ""),
    ("differentiation", "Chondrogenic", "expected", "positive", ""),
    ("genomic", "CGH array", "expected", "normal", ""),
    ("potency", "T-cell proliferation inhibition", "min", "30", "%"),
    ("viability", "Viability", "min", "70", "%"),
    ("sterility", "Sterility", "expected", "no growth", ""),
    ("mycoplasma", "Mycoplasma", "expected", "not detected", ""),
    ("endotoxin", "Endotoxin", "max", "0.5", "EU/ml"),
]

# code, age, sex, facility FIN, procurement date
DONORS = [
    ("ATD-001", 34, "F", "ESSAL", datetime.date(2019, 10, 8)),
    ("ATD-002", 41, "F", "ESNAV", datetime.date(2019, 11, 5)),
    ("ATD-003", 29, "M", "ESMAR", datetime.date(2019, 11, 19)),
    ("ATD-004", 46, "F", "ESSAL", datetime.date(2020, 1, 14)),
    ("ATD-005", 38, "M", "ESNAV", datetime.date(2020, 1, 28)),
]

SITES = {
    "ESSAL": "Hospital Universitario de Salamanca, Plastic Surgery",
    "ESNAV": "Clínica Universidad de Navarra, Plastic Surgery",
    "ESMAR": "Hospital Gregorio Marañón, Plastic Surgery",
}


def _results(overrides=None, viability="91.5"):
    """Passing results for every item of SPEC_V1 (value or text), with overrides."""
    values = {
        "Morphology": "plastic-adherent",
        "CD73": "99.2",
        "CD90": "98.7",
        "CD105": "97.9",
        "CD45": "0.6",
        "CD34": "1.1",
        "CD14": "0.4",
        "CD19": "0.2",
        "HLA-DR": "0.8",
        "Osteogenic": "positive",
        "Adipogenic": "positive",
        "Chondrogenic": "positive",
        "CGH array": "normal",
        "T-cell proliferation inhibition": "62",
        "Viability": viability,
        "Sterility": "no growth",
        "Mycoplasma": "not detected",
        "Endotoxin": "0.1",
    }
    values.update(overrides or {})
    return values


def seed(*, users, stdout) -> None:
    """Create the demo production records once; a second run changes nothing."""
    if Facility.objects.filter(fin="ESSAL").exists():
        stdout.write("batches: demo data already present, skipped.")
        return
    production, qp = users["production"], users["qp"]

    facilities = {
        fin: site_services.create_facility(
            actor=production,
            reason=DEMO_REASON,
            fin=fin,
            name=name,
            authorisation_ref=f"AEMPS-GMP-{fin}",
        )
        for fin, name, _short in FACILITIES
    }
    spec = services.create_specification(
        actor=production,
        reason=DEMO_REASON,
        code="AT-MSC-REL",
        version=1,
        effective_from=datetime.date(2019, 6, 1),
        notes=f"Release specification of AT-MSC under IMPD {IMPD}: ISCT minimal criteria, "
        "CGH array, potency, viability before cryopreservation, sterility, mycoplasma, "
        "endotoxin.",
    )
    items = {
        parameter: services.add_specification_item(
            spec,
            actor=production,
            reason=DEMO_REASON,
            category=category,
            parameter=parameter,
            kind=kind,
            lower_limit=Decimal(limit) if kind == "min" else None,
            upper_limit=Decimal(limit) if kind == "max" else None,
            expected_result=limit if kind == "expected" else "",
            unit=unit,
        )
        for category, parameter, kind, limit, unit in SPEC_V1
    }

    donors, procurements = {}, {}
    for code, age, sex, fin, procured_on in DONORS:
        donors[code] = services.create_donor(
            actor=production,
            reason=DEMO_REASON,
            code=code,
            age_at_donation=age,
            sex=sex,
            consent_for_clinical_use=True,
            consent_signed_on=procured_on - datetime.timedelta(days=14),
        )
        procurements[code] = _procure(donors[code], fin, procured_on, production)

    # (facility, sequence, donor, doublings, passages, viability, bags, fate, overrides)
    plan = [
        ("ESSAL", 101, "ATD-001", "14.2", 1, "92.4", 12, "release", None),
        ("ESNAV", 102, "ATD-002", "15.8", 1, "89.7", 12, "release", None),
        ("ESMAR", 103, "ATD-003", "13.1", 1, "94.1", 12, "release", None),
        ("ESSAL", 104, "ATD-004", "16.5", 1, "90.3", 12, "release", None),
        ("ESNAV", 105, "ATD-005", "17.9", 1, "86.2", 12, "release", None),
        ("ESNAV", 107, "ATD-002", "16.4", 1, "88.9", 6, "reject", {"CD105": "91.4"}),
    ]
    # The rejected batch comes from donor ATD-002's second liposuction.
    procurements["ATD-002/2"] = _procure(
        donors["ATD-002"], "ESNAV", datetime.date(2020, 2, 11), production
    )
    for box, (
        fin,
        seq,
        code,
        doublings,
        passages,
        viability,
        n_bags,
        fate,
        overrides,
    ) in enumerate(plan, start=1):
        procurement = procurements[f"{code}/2" if fate == "reject" else code]
        procured_on = procurement.procured_on
        batch = _batch(
            production,
            facilities[fin],
            make_din(fin, procured_on.year, seq),
            donors[code],
            procurement,
            spec,
            doublings=doublings,
            passages=passages,
            viability=viability,
            cryopreserved_on=procured_on + datetime.timedelta(days=24),
            shelf_life_years=10,
        )
        _checks(batch, items, _results(overrides, viability), production)
        services.create_bags(
            batch,
            actor=production,
            count=n_bags,
            nominal_cells=_cells(seq),
            volume_ml=Decimal("20.0"),
            product_code=services.DEFAULT_PRODUCT_CODE,
            tank=f"LN2-{fin}",
            rack="R1",
            box=f"B{box}",
            at=_noon(procured_on + datetime.timedelta(days=24)),
        )
        services.submit_for_release(batch, actor=production)
        if fate == "release":
            services.release_batch(
                batch,
                actor=qp,
                password=DEMO_QP_PASSWORD,
                comment="All release checks within specification.",
                # Released in time for the 2020 series: three weeks of QC after freezing.
                at=_noon(procured_on + datetime.timedelta(days=24 + 21)),
            )
        else:
            services.reject_batch(
                batch,
                actor=qp,
                password=DEMO_QP_PASSWORD,
                reason="CD105 91.4 %: below the ISCT limit of ≥ 95 %.",
                at=_noon(procured_on + datetime.timedelta(days=24 + 21)),
            )

    # A new batch from donor ATD-005's second procurement, in quarantine, ready for the QP.
    today = timezone.localdate()
    procured_on = today - datetime.timedelta(days=40)
    procurement = _procure(donors["ATD-005"], "ESMAR", procured_on, production)
    batch = _batch(
        production,
        facilities["ESMAR"],
        make_din("ESMAR", procured_on.year, 106),
        donors["ATD-005"],
        procurement,
        spec,
        doublings="15.1",
        passages=1,
        viability="90.8",
        cryopreserved_on=procured_on + datetime.timedelta(days=24),
        shelf_life_years=2,
    )
    _checks(batch, items, _results(viability="90.8"), production)
    services.create_bags(
        batch,
        actor=production,
        count=8,
        nominal_cells=65_000_000,
        volume_ml=Decimal("20.0"),
        product_code=services.DEFAULT_PRODUCT_CODE,
        tank="LN2-ESMAR",
        rack="R2",
        box="B1",
    )
    services.submit_for_release(batch, actor=production)
    stdout.write(
        "batches: 3 facilities, 5 donors, 5 released batches (60 bags available), "
        f"1 rejected batch, batch {batch.code} in quarantine for QP release."
    )


def _noon(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def _procure(donor, fin, procured_on, actor):
    """A liposuction and the donor's negative serology on the day (a look-back reason
    where a QP has already decided on a batch from the donor)."""
    procurement = services.record_procurement(
        donor,
        actor=actor,
        reason=DEMO_REASON,
        procured_on=procured_on,
        site=SITES[fin],
        lipoaspirate_volume_ml=Decimal("100.0"),
        fat_weight_g=Decimal("50.0"),
        performed_by=f"Surgeon {fin}-PS1",
    )
    for test in SerologyResult.Test:
        services.record_serology(
            donor,
            actor=actor,
            reason=DEMO_REASON,
            test=test,
            result=SerologyResult.Result.NEGATIVE,
            sampled_on=procured_on,
        )
    return procurement


def _batch(actor, facility, din, donor, procurement, spec, **data):
    cryopreserved_on = data["cryopreserved_on"]
    return services.create_batch(
        actor=actor,
        reason=DEMO_REASON,
        din=din,
        donor=donor,
        procurement=procurement,
        facility=facility,
        impd_reference=IMPD,
        specification=spec,
        population_doublings=Decimal(data["doublings"]),
        passages=data["passages"],
        cryopreserved_on=cryopreserved_on,
        expires_on=cryopreserved_on.replace(year=cryopreserved_on.year + data["shelf_life_years"]),
    )  # viability comes with its release check (`_checks`)


def _checks(batch, items, results, actor):
    tested_on = batch.cryopreserved_on - datetime.timedelta(days=2)
    for parameter, item in items.items():
        result = results[parameter]
        if item.kind == SpecificationItem.Kind.EXPECTED:
            services.record_check(batch, item, actor=actor, tested_on=tested_on, text=result)
        else:
            services.record_check(batch, item, actor=actor, tested_on=tested_on, value=result)


def _cells(seq: int) -> int:
    """Nominal cells per bag, between 50 and 75 ×10⁶, varying by batch."""
    return {101: 60_000_000, 102: 65_000_000, 103: 70_000_000, 104: 62_000_000}.get(
        seq, 55_000_000
    )

"""The source paper's published figures (Sánchez-Guijo et al., EClinicalMedicine 2020),
entered once, for the report to show beside its own when it covers the paper's protocol."""

from decimal import Decimal

from django.db import migrations

PROTOCOL = "AT-MSC-COVID"
SOURCE = (
    "Sánchez-Guijo F et al. EClinicalMedicine 2020;25:100454. "
    "doi:10.1016/j.eclinm.2020.100454"
)
# (figure, value, as printed)
FIGURES = [
    ("patients_treated", "13", "13 patients"),
    ("donors", "5", "five different donors"),
    ("doses", "25", "2 × 1 + 10 × 2 + 1 × 3"),
    ("doses_per_patient.1", "2", "two cases, a single dose"),
    ("doses_per_patient.2", "10", "ten patients received 2 doses"),
    ("doses_per_patient.3", "1", "one patient received 3 doses"),
    ("preparation.thawed", "6", "6 directly thawed"),
    ("preparation.refreshed", "7", "7 reseeded and refreshed"),
    ("cells_per_kg_per_dose.median", "980000", "0.98 × 10⁶/kg"),
    ("cells_per_kg_per_dose.iqr", "500000", "IQR 0.50 × 10⁶/kg"),
    ("days_dose1_to_dose2.median", "3", "3 days"),
    ("days_dose1_to_dose2.iqr", "1", "IQR 1 day"),
    ("days_ventilation_to_dose1.all.median", "7", "7 days"),
    ("days_ventilation_to_dose1.all.iqr", "12", "IQR 12 days"),
    ("days_ventilation_to_dose1.extubated.median", "5", "5 days"),
    ("days_ventilation_to_dose1.extubated.iqr", "11", "IQR 11 days"),
    ("days_ventilation_to_dose1.not_extubated.median", "10", "10 days"),
    ("days_ventilation_to_dose1.not_extubated.iqr", "15", "IQR 15 days"),
    ("follow_up_days.median", "16", "16 days"),
    ("follow_up_days.iqr", "9", "IQR 9 days"),
    ("outcomes.improved", "9", "9 (70 %)"),
    ("outcomes.extubated", "7", "7 (53 %)"),
    ("outcomes.icu_discharged", "7", "extubated and discharged from ICU"),
    ("outcomes.died", "2", "two patients died"),
    ("outcomes.still_ventilated", "4", "four remained intubated"),
    ("outcomes.ecmo", "2", "ECMO in two patients"),
    ("related_adverse_events", "0", "no adverse events related to cell therapy"),
    ("lab_day5.crp.as_expected", "8", "CRP fell in 8"),
    ("lab_day5.crp.evaluable", "9", "of 9"),
    ("lab_day5.ldh.as_expected", "9", "LDH fell in 9"),
    ("lab_day5.ldh.evaluable", "9", "of 9"),
    ("lab_day5.d_dimer.as_expected", "5", "D-dimer fell in 5"),
    ("lab_day5.d_dimer.evaluable", "8", "of 8 evaluable"),
    ("lab_day5.ferritin.as_expected", "5", "ferritin fell in 5"),
    ("lab_day5.ferritin.evaluable", "8", "of 8 evaluable"),
    ("lab_day5.lymphocytes.as_expected", "5", "lymphocytes rose in 5"),
    ("lab_day5.lymphocytes.evaluable", "6", "of 6"),
]


def enter(apps, schema_editor):
    figure_model = apps.get_model("reports", "PublishedFigure")
    for figure, value, printed in FIGURES:
        figure_model.objects.get_or_create(
            protocol_code=PROTOCOL,
            source=SOURCE,
            figure=figure,
            defaults={"value": Decimal(value), "as_published": printed},
        )


def remove(apps, schema_editor):
    apps.get_model("reports", "PublishedFigure").objects.filter(source=SOURCE).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_published_figures")]

    operations = [migrations.RunPython(enter, remove)]

"""A patient's hospital becomes a `sites.Hospital` record instead of a code in the source.

The four hospitals of the case series were a `TextChoices` (HUS, FJD, HGM, CUN). Patients
already registered keep their hospital: a `Hospital` record is made for each code in use
(with the name the code had and the patient-code prefix its patients used) and every
patient points to it. The value does not change, only where it lives, so the audit trail
(which recorded the code) still reads true: the code is the new record's site code.
"""

import django.db.models.deletion
from django.db import migrations, models

FORMER_HOSPITALS = {
    "HUS": "Hospital Universitario de Salamanca",
    "FJD": "Fundación Jiménez Díaz",
    "HGM": "Hospital Universitario Gregorio Marañón",
    "CUN": "Clínica Universidad de Navarra",
}


def hospitals_from_codes(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    Hospital = apps.get_model("sites", "Hospital")
    for code in Patient.objects.order_by().values_list("hospital", flat=True).distinct():
        prefixes = {
            p.split("-", 1)[0]
            for p in Patient.objects.filter(hospital=code).values_list("code", flat=True)
        }
        prefix = prefixes.pop() if len(prefixes) == 1 else code
        if Hospital.objects.filter(patient_code_prefix=prefix).exclude(code=code).exists():
            prefix = code
        hospital, _ = Hospital.objects.get_or_create(
            code=code,
            defaults={"name": FORMER_HOSPITALS.get(code, code), "patient_code_prefix": prefix},
        )
        Patient.objects.filter(hospital=code).update(hospital_site=hospital)


def codes_from_hospitals(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    for patient in Patient.objects.select_related("hospital_site"):
        patient.hospital = patient.hospital_site.code[:3]
        patient.save(update_fields=["hospital"])


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_initial"),
        ("sites", "0002_hospitals_and_memberships"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="hospital_site",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sites.hospital",
            ),
        ),
        migrations.RunPython(hospitals_from_codes, codes_from_hospitals),
        migrations.RemoveField(model_name="patient", name="hospital"),
        migrations.RenameField(
            model_name="patient", old_name="hospital_site", new_name="hospital"
        ),
        migrations.AlterField(
            model_name="patient",
            name="hospital",
            field=models.ForeignKey(
                help_text="The treating hospital; its pharmacy and clinicians see the patient.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="patients",
                to="sites.hospital",
            ),
        ),
    ]

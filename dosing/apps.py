from django.apps import AppConfig


class DosingConfig(AppConfig):
    name = "dosing"
    verbose_name = "Dosing and infusion"

    def ready(self):
        from batches.querysets import register_hospital_bags
        from dosing.querysets import bags_of_hospital_doses
        from dosing.views.steps import offer_first_dose
        from patients import next_steps

        next_steps.register(offer_first_dose)
        # A hospital sees the bags given to its patients wherever they are now.
        register_hospital_bags(bags_of_hospital_doses)

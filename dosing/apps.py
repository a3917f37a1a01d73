from django.apps import AppConfig


class DosingConfig(AppConfig):
    name = "dosing"
    verbose_name = "Dosing and infusion"

    def ready(self):
        from dosing.views.steps import offer_first_dose
        from patients import next_steps

        next_steps.register(offer_first_dose)

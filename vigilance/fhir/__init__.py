"""A read-only FHIR R5 server at /api/fhir/ for hospital systems (see docs/fhir.md).

Bags as `BiologicallyDerivedProduct`, each dispensed bag of a dose as
`BiologicallyDerivedProductDispense`, the infusion as `Procedure`, adverse events as
`AdverseEvent` and patients by their pseudonymised code only. Every resource is built with
the R5 models of `fhir.resources` (so what leaves is valid R5 by construction) from rows
read through `for_user`: a reader sees what their sites cover, and nothing else.
"""

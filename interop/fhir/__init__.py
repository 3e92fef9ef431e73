"""FHIR R4: the export of a patient's record as a Bundle (export.py) and the pre-fill of a
new assessment's labs from a Bundle (labs_import.py). codes.py holds every system, code and
unit both of them use."""

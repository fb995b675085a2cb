"""The dataset interchange format (`dataset-format.md`): import, export, validation."""

from provisioning.dataset.exporter import export_dataset
from provisioning.dataset.importer import FileReport, ImportReport, import_dataset

__all__ = ["FileReport", "ImportReport", "export_dataset", "import_dataset"]

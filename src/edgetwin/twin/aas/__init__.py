"""Asset Administration Shell (AAS v3) export/import of the plant as AASX, with IDTA submodels."""

from edgetwin.twin.aas.export import build_store, export_aasx, export_aasx_bytes
from edgetwin.twin.aas.importer import import_aasx, read_aasx

__all__ = ["build_store", "export_aasx", "export_aasx_bytes", "import_aasx", "read_aasx"]

"""Semantic ids of the IDTA submodel templates we write, in one place.

Nameplate (IDTA 02006-2-0), Technical Data (02003-1-2) and Time Series Data (02008-1-1) ids
are the published ones (ECLASS IRDIs for the nameplate properties). The Predictive Maintenance
ids (02048) follow the IDTA URL convention and are kept here so they can be aligned with the
published template without touching the mapping. AI Model Nameplate (02060) and AI Deployment
(02059) come from `edgetwin.edge.aas`.
"""

from __future__ import annotations

PREFIX = "urn:edgetwin"

NAMEPLATE = "https://admin-shell.io/idta/nameplate/2/0/Nameplate"
# plant.yaml nameplate key (lower case) -> (IDTA idShort, ECLASS IRDI, multi-language?)
NAMEPLATE_FIELDS: dict[str, tuple[str, str, bool]] = {
    "manufacturer": ("ManufacturerName", "0173-1#02-AAO677#002", True),
    "manufacturer_name": ("ManufacturerName", "0173-1#02-AAO677#002", True),
    "product": ("ManufacturerProductDesignation", "0173-1#02-AAW338#001", True),
    "model": ("ManufacturerProductDesignation", "0173-1#02-AAW338#001", True),
    "designation": ("ManufacturerProductDesignation", "0173-1#02-AAW338#001", True),
    "product_type": ("ManufacturerProductType", "0173-1#02-AAO057#002", False),
    "serial": ("SerialNumber", "0173-1#02-AAM556#002", False),
    "serial_number": ("SerialNumber", "0173-1#02-AAM556#002", False),
    "year": ("YearOfConstruction", "0173-1#02-AAP906#001", False),
    "year_of_construction": ("YearOfConstruction", "0173-1#02-AAP906#001", False),
    "date_of_manufacture": ("DateOfManufacture", "0173-1#02-AAR972#002", False),
    "hardware_version": ("HardwareVersion", "0173-1#02-AAN270#002", False),
    "firmware_version": ("FirmwareVersion", "0173-1#02-AAM985#002", False),
    "order_code": ("OrderCodeOfManufacturer", "0173-1#02-AAO227#002", False),
    "country_of_origin": ("CountryOfOrigin", "0173-1#02-AAO259#004", False),
    "uri": ("URIOfTheProduct", "0173-1#02-AAY811#001", False),
}

TECHNICAL_DATA = "https://admin-shell.io/ZVEI/TechnicalData/Submodel/1/2"
TD_GENERAL = "https://admin-shell.io/ZVEI/TechnicalData/GeneralInformation/1/1"
TD_CLASSIFICATIONS = "https://admin-shell.io/ZVEI/TechnicalData/ProductClassifications/1/1"
TD_PROPERTIES = "https://admin-shell.io/ZVEI/TechnicalData/TechnicalProperties/1/1"
TD_FURTHER = "https://admin-shell.io/ZVEI/TechnicalData/FurtherInformation/1/1"

TIME_SERIES = "https://admin-shell.io/idta/TimeSeries/1/1"
TS_METADATA = "https://admin-shell.io/idta/TimeSeries/Metadata/1/1"
TS_NAME = "https://admin-shell.io/idta/TimeSeries/Metadata/Name/1/1"
TS_DESCRIPTION = "https://admin-shell.io/idta/TimeSeries/Metadata/Description/1/1"
TS_RECORD = "https://admin-shell.io/idta/TimeSeries/Record/1/1"
TS_TIME = "https://admin-shell.io/idta/TimeSeries/UtcTime/1/1"
TS_SEGMENTS = "https://admin-shell.io/idta/TimeSeries/Segments/1/1"
TS_LINKED = "https://admin-shell.io/idta/TimeSeries/Segments/LinkedSegment/1/1"
TS_SEG_NAME = "https://admin-shell.io/idta/TimeSeries/Segment/Name/1/1"
TS_SAMPLING_RATE = "https://admin-shell.io/idta/TimeSeries/Segment/SamplingRate/1/1"
TS_ENDPOINT = "https://admin-shell.io/idta/TimeSeries/Endpoint/1/1"
TS_QUERY = "https://admin-shell.io/idta/TimeSeries/Query/1/1"

PDM = "https://admin-shell.io/idta/PredictiveMaintenance/1/0/Submodel"
PDM_ELEMENT = "https://admin-shell.io/idta/PredictiveMaintenance/1/0/{name}"

PLANT_CONFIG = f"{PREFIX}:semantic:PlantConfiguration:1"
SIGNAL_CONFIG = f"{PREFIX}:semantic:SignalConfiguration:1"
ASSET_PATH_KEY = "edgetwin:assetPath"
PLANT_ASSET_TYPE = "edgetwin:Plant"
MODULE_ASSET_TYPE = "edgetwin:EdgeModule"

"""DICOM de-identification before anything is stored or shown, at every nesting depth.

The DICOM PS3.15 Annex E *Basic Application Level Confidentiality Profile*, run through the maintained
``dicognito`` anonymiser: its :class:`dicognito.anonymizer.Anonymizer` walks the file meta and the data set
(every sequence item, at any depth) and replaces every instance UID with a new one derived from a keyed
hash, so UIDs stay consistent within a study (the same anonymiser, or the same ``HCVIEW_DEID_SEED``, maps
a UID to the same new UID wherever it appears: SOPInstanceUID and MediaStorageSOPInstanceUID, a
StudyInstanceUID across the files of a study, ReferencedSOPInstanceUID to its target) and gives any
remaining person name a dummy value. In front of dicognito's handlers hcview puts the profile's rules:

- private tags and curve / overlay groups (50xx, 60xx): removed;
- the Table E.1-1 attributes listed in :data:`BASIC_PROFILE_REMOVE` (identities, institution, device,
  request, comments, clinical-trial subject, and the sequences that carry them): removed at any depth;
- type 2 identifying attributes at the top level (:data:`EMPTIED`: PatientName, PatientID, StudyDate, ...):
  emptied (action Z), so a written file stays valid;
- at any depth, every free-text, name, date / time, age, address, URI, unknown or binary value that is
  not in :data:`KEEP`: removed (Retain Longitudinal Temporal Information is not applied);
- :data:`KEEP`: what display and the models need (Modality, the Image Pixel module, photometric and LUT
  attributes, rescale, window, pixel spacing, view, body part) plus PatientSex and PatientAge: the Retain
  Patient Characteristics Option, limited to those two.

``BurnedInAnnotation = YES`` is reported loudly (:func:`burned_in_annotation`): the pixels may contain
identifying text and no header rule can remove it. ``PatientIdentityRemoved = YES`` on input is ignored:
the profile is always applied.
"""
from __future__ import annotations

import os
import secrets

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from hcview.errors import DicomError

DEID_PROFILE = ("DICOM PS3.15 Basic Application Level Confidentiality Profile with the Retain Patient "
                "Characteristics Option (PatientSex, PatientAge kept); all private tags removed; UIDs replaced")
DEID_METHOD = "hcview: PS3.15 Basic Profile, Retain Patient Characteristics (sex, age), dicognito UIDs"[:64]

# PS3.15 Table E.1-1 attributes (image objects) removed wherever they occur. Free text, names, dates and
# other string values not in KEEP are removed anyway by VR; this list also covers numbers, codes and sequences.
BASIC_PROFILE_REMOVE: tuple[str, ...] = (
    # patient identity and characteristics not retained
    "PatientName", "PatientID", "IssuerOfPatientID", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "PatientBirthDate", "PatientBirthTime",
    "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation", "PatientInsurancePlanCodeSequence",
    "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup", "Occupation",
    "AdditionalPatientHistory", "PatientComments", "PatientReligiousPreference", "PatientSize", "PatientWeight",
    "CountryOfResidence", "RegionOfResidence", "PregnancyStatus", "SmokingStatus", "LastMenstrualDate",
    "MedicalAlerts", "Allergies", "ResponsiblePerson", "ResponsibleOrganization", "PatientState",
    "PatientTransportArrangements", "PatientPrimaryLanguageCodeSequence", "InsurancePlanIdentification",
    "PatientSexNeutered", "PatientBirthDateInAlternativeCalendar", "PatientDeathDateInAlternativeCalendar",
    "PatientAlternativeCalendar", "ReferencedPatientPhotoSequence", "ReferencedPatientAliasSequence",
    "PatientSpeciesDescription", "PatientBreedDescription", "ResponsiblePersonRole", "BreedRegistrationNumber",
    # clinical trial subject
    "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID", "ClinicalTrialSponsorName", "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName", "ClinicalTrialSiteID", "ClinicalTrialSiteName", "ClinicalTrialTimePointID",
    "ClinicalTrialTimePointDescription", "ClinicalTrialCoordinatingCenterName", "ClinicalTrialSeriesID",
    "ClinicalTrialSeriesDescription", "ClinicalTrialProtocolEthicsCommitteeName",
    "ClinicalTrialProtocolEthicsCommitteeApprovalNumber",
    # study / visit / request
    "AccessionNumber", "StudyID", "StudyDescription", "SeriesDescription", "RequestingPhysician",
    "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence", "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorsName", "OperatorIdentificationSequence",
    "ConsultingPhysicianName", "ConsultingPhysicianIdentificationSequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence", "AdmissionID", "IssuerOfAdmissionID",
    "ServiceEpisodeID", "ServiceEpisodeDescription",
    "RequestAttributesSequence", "RequestedProcedureID", "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence", "ProcedureCodeSequence",
    "ScheduledProcedureStepID", "ScheduledProcedureStepDescription", "PerformedProcedureStepID",
    "PerformedProcedureStepDescription", "ReasonForStudy", "ReasonForTheRequestedProcedure",
    "RequestedContrastAgent", "StudyComments", "ImageComments", "DerivationDescription",
    "CurrentPatientLocation", "PatientInstitutionResidence", "ProtocolName", "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest", "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "ReferencedImageSequence", "SourceImageSequence",
    "ContentSequence", "VerifyingObserverName", "VerifyingObserverSequence", "PersonName",
    "ContentCreatorName", "ContentCreatorIdentificationCodeSequence", "PersonIdentificationCodeSequence",
    "AcquisitionComments", "VisitComments", "ImagePresentationComments", "TopicSubject", "TopicAuthor",
    "TopicKeywords", "TopicTitle", "AuthorObserverSequence", "ParticipantSequence", "CustodialOrganizationSequence",
    # institution / device / equipment
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "InstitutionalDepartmentTypeCodeSequence", "StationName", "DeviceSerialNumber", "DetectorID", "PlateID",
    "GantryID", "CassetteID", "DeviceUID", "ContributingEquipmentSequence", "GeneratorID", "SourceSerialNumber",
    "ScheduledStationName", "ScheduledStationAETitle", "PerformedStationName", "PerformedStationAETitle",
    "PerformedLocation", "ScheduledProcedureStepLocation", "StationAETitle",
    # dates and times (Retain Longitudinal Temporal Information is not applied)
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "OverlayDate", "CurveDate",
    "AcquisitionDateTime", "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "OverlayTime", "CurveTime",
    "InstanceCreationDate", "InstanceCreationTime", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime",
    "DateOfLastCalibration", "TimeOfLastCalibration", "DateOfSecondaryCapture", "TimeOfSecondaryCapture",
    "AdmittingDate", "AdmittingTime", "DischargeDate", "DischargeTime", "IssueDateOfImagingServiceRequest",
    "IssueTimeOfImagingServiceRequest", "FrameReferenceDateTime", "ScheduledProcedureStepStartDate",
    # misc free text and containers that may carry identities
    "TextComments", "TextString", "Impressions", "InterpretationText", "InterpretationAuthor",
    "RequestingService", "InstanceCreatorUID", "StorageMediaFileSetUID", "IconImageSequence",
    "DigitalSignaturesSequence", "OriginalAttributesSequence", "ModifiedAttributesSequence",
    "EncryptedAttributesSequence", "MACParametersSequence", "DataSetTrailingPadding",
    "FrameComments", "LabelText", "GraphicAnnotationSequence", "DocumentTitle", "EncapsulatedDocument",
)

# type 2 attributes emptied (action Z) at the top level instead of removed, so a written file stays valid
EMPTIED: tuple[str, ...] = (
    "PatientName", "PatientID", "PatientBirthDate", "ReferringPhysicianName", "StudyDate", "StudyTime",
    "AccessionNumber", "StudyID",
)

# UIDs replaced (not removed), wherever they occur: kept for reference; dicognito replaces every instance UID
UIDS_REPLACE: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "SynchronizationFrameOfReferenceUID", "ConcatenationUID", "IrradiationEventUID",
    "DimensionOrganizationUID", "ReferencedSOPInstanceUID", "TargetUID",
)

# never removed: what display and the models need (and the de-identification record itself)
KEEP: tuple[str, ...] = (
    "Modality", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
    "PixelRepresentation", "SamplesPerPixel", "PlanarConfiguration", "NumberOfFrames", "PixelData",
    "RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth", "VOILUTFunction",
    "VOILUTSequence", "ModalityLUTSequence", "PixelSpacing", "ImagerPixelSpacing", "SliceThickness",
    "ViewPosition", "BodyPartExamined", "PatientSex", "PatientAge", "SOPClassUID", "SpecificCharacterSet",
    "FloatPixelData", "DoubleFloatPixelData", "LUTDescriptor", "LUTData", "ModalityLUTType",
    "RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData", "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData", "SegmentedBluePaletteColorLookupTableData",
    "PaletteColorLookupTableUID", "PixelAspectRatio", "LossyImageCompression", "LossyImageCompressionRatio",
    "LossyImageCompressionMethod", "BurnedInAnnotation", "RecognizableVisualFeatures", "PatientIdentityRemoved",
    "ImageType", "PatientOrientation", "Laterality", "ImageLaterality", "PresentationIntentType",
    "PixelIntensityRelationship", "PixelIntensityRelationshipSign", "Manufacturer", "ManufacturerModelName",
    "SmallestImagePixelValue", "LargestImagePixelValue", "PixelPaddingValue", "PixelPaddingRangeLimit",
    "ExtendedOffsetTable", "ExtendedOffsetTableLengths", "SeriesNumber", "InstanceNumber", "AcquisitionNumber",
)

# the de-identification record is written after the walk
_RECORD = ("DeidentificationMethod", "DeidentificationMethodCodeSequence", "PatientIdentityRemoved")

# VRs whose values are kept unless listed for removal: numbers, codes, tags, sequences (walked)
_SAFE_VRS = frozenset({"CS", "DS", "IS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT", "SQ",
                       "US or SS", "US or OW", "US or SS or OW"})
_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW"})

_KEEP_TAGS = frozenset(Tag(k) for k in KEEP)
_REMOVE_TAGS = frozenset(Tag(k) for k in BASIC_PROFILE_REMOVE) - _KEEP_TAGS
_EMPTIED_TAGS = frozenset(Tag(k) for k in EMPTIED)
_RECORD_TAGS = frozenset(Tag(k) for k in _RECORD)

_SEED = os.environ.get("HCVIEW_DEID_SEED") or secrets.token_hex(16)  # per process unless configured


class RemovedEntry(dict):
    """One attribute taken out or replaced: ``keyword``, ``tag``, ``action``, ``count`` (occurrences at any
    depth). ``str()`` is the keyword, with the count when it occurred more than once."""

    def __str__(self) -> str:
        kw = self["keyword"]
        n = self.get("count", 1)
        return f"{kw} x{n}" if n > 1 else kw


class RemovedList(list):
    """The attributes de-identification removed or replaced, one :class:`RemovedEntry` per keyword and action.
    ``str()`` reads ``N attributes removed or replaced: PatientName, PatientID, ...``."""

    @property
    def total(self) -> int:
        return sum(int(e.get("count", 1)) for e in self)

    @property
    def keywords(self) -> list[str]:
        return list(dict.fromkeys(e["keyword"] for e in self))

    def summary(self, limit: int | None = None) -> str:
        items = [str(e) for e in self]
        if limit is not None and len(items) > limit:
            items = items[:limit] + [f"... {len(self) - limit} more"]
        n = self.total
        return f"{n} attribute{'s' if n != 1 else ''} removed or replaced" + (": " + ", ".join(items) if items else "")

    def __str__(self) -> str:
        return self.summary()


def _anonymizer(seed: str | None):
    """A dicognito anonymiser keyed by ``seed`` (default: this process's key, or ``HCVIEW_DEID_SEED``).
    The same key maps a UID to the same new UID, so the files of a study stay consistent."""
    from dicognito.anonymizer import Anonymizer

    return Anonymizer(seed=str(seed) if seed is not None else _SEED)


def burned_in_annotation(ds: Dataset) -> bool:
    """True when the header says the pixels carry burned-in text (BurnedInAnnotation YES), whatever
    PatientIdentityRemoved claims."""
    try:
        v = ds.get("BurnedInAnnotation", "")
    except Exception:
        return True  # unreadable: assume the worst
    return str(v or "").strip().upper() == "YES"


class _ProfileHandler:
    """dicognito element handler that applies the profile's rules before dicognito's own handlers.

    Returns True when the element is dealt with (kept, removed or emptied); False lets dicognito replace
    it (instance UIDs and person names)."""

    def __init__(self, root: Dataset):
        self.root = root
        self.found: dict[tuple[str, str], RemovedEntry] = {}

    def note(self, elem, action: str) -> None:
        kw = "(private)" if elem.tag.is_private else (elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})")
        key = (kw, action)
        e = self.found.get(key)
        if e is None:
            self.found[key] = RemovedEntry(keyword=kw, tag=f"({elem.tag.group:04X},{elem.tag.element:04X})",
                                           action=action, count=1)
        else:
            e["count"] += 1

    def __call__(self, dataset, elem) -> bool:
        tag = elem.tag
        if tag.is_private:
            self.note(elem, "removed (private)")
            del dataset[tag]
            return True
        if (tag.group & 0xFF00) in (0x5000, 0x6000):  # curves and overlays may carry burned-in text
            self.note(elem, "removed")
            del dataset[tag]
            return True
        if tag.group == 0x0002:  # file meta: only the instance UID is replaced (by dicognito)
            if elem.VR == "UI" and elem.keyword == "MediaStorageSOPInstanceUID" and elem.value:
                self.note(elem, "uid replaced")
                return False
            if elem.VR in ("AE",) or elem.keyword == "SourceApplicationEntityTitle":
                self.note(elem, "removed")
                del dataset[tag]
            return True
        if tag in _KEEP_TAGS or tag in _RECORD_TAGS:
            return True
        top = dataset is self.root
        if tag in _EMPTIED_TAGS and top:
            if elem.value not in (None, "", b"") and not (isinstance(elem.value, (list, Sequence)) and not elem.value):
                self.note(elem, "emptied")
                elem.value = None if elem.VR != "SQ" else []
            return True
        if tag in _REMOVE_TAGS:
            self.note(elem, "removed")
            del dataset[tag]
            return True
        vr = str(elem.VR)
        if vr == "UI":
            kw = elem.keyword or ""
            if not elem.value or kw.endswith("ClassUID") or kw == "TransferSyntaxUID" or kw == "CodingSchemeUID":
                return True
            self.note(elem, "uid replaced")
            return False  # dicognito's UIAnonymizer
        if vr in _SAFE_VRS:
            return True
        if vr == "PN" and top and not elem.value:
            return True
        # names, free text, dates / times, ages, addresses, URIs, unknown and binary values
        self.note(elem, "removed")
        del dataset[tag]
        return True


def deidentify(ds: Dataset, seed: str | None = None) -> tuple[Dataset, RemovedList]:
    """De-identify ``ds`` in place (at every depth) and return ``(ds, removed)``.

    ``removed`` is a :class:`RemovedList` of ``{"keyword", "tag", "action", "count"}`` entries (action
    'removed', 'removed (private)', 'emptied' or 'uid replaced'); ``str(removed)`` is a readable summary.
    UIDs are keyed by ``seed`` (default: one key per process, or ``HCVIEW_DEID_SEED``): the same key gives
    the same new UIDs, so the files of a study stay consistent.
    """
    from pydicom.dataset import FileMetaDataset

    anon = _anonymizer(seed)
    handler = _ProfileHandler(ds)
    anon.add_element_handler(handler)  # runs before dicognito's own handlers
    had_meta = getattr(ds, "file_meta", None) is not None
    if not had_meta:
        ds.file_meta = FileMetaDataset()
    try:
        anon.anonymize(ds)
    except DicomError:
        raise
    except Exception as e:
        raise DicomError(f"cannot de-identify this DICOM: malformed attribute ({' '.join(str(e).split())[:80]})") from None
    if not had_meta and len(ds.file_meta) == 0:
        del ds.file_meta
    # the de-identification record (PS3.15 E.1.1 / PS3.3 C.12.1.1)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEID_METHOD
    codes = []
    for value, meaning in (("113100", "Basic Application Confidentiality Profile"),
                           ("113108", "Retain Patient Characteristics Option")):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    return ds, RemovedList(handler.found.values())

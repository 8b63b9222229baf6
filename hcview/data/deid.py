"""DICOM de-identification before anything is stored or shown.

Implements the attribute list of the DICOM PS3.15 Annex E *Basic Application Level Confidentiality
Profile* that can occur in radiograph / CT / MR objects (the profile's "X" (remove), "Z" (empty) and
"D" (dummy) actions are all applied as *remove*, "U" (UIDs) as *replace with a new deterministic UID*),
plus *all private tags* (Retain Safe Private is not used). Curve/overlay data and sequences that can
carry identities (e.g. RequestAttributesSequence) are removed too.

Kept on purpose, because display and the models need them: the Image Pixel module (Rows, Columns,
BitsAllocated/Stored, HighBit, PixelRepresentation, SamplesPerPixel, PhotometricInterpretation,
PlanarConfiguration, PixelData, NumberOfFrames), Modality, Rescale*, Window*, VOILUTSequence,
ModalityLUTSequence, PixelSpacing / ImagerPixelSpacing, SliceThickness, ViewPosition,
BodyPartExamined, PatientSex and PatientAge (coarse demographic fields the multimodal model uses; the
Basic Profile removes them, the *Retain Patient Characteristics Option* keeps them -- hcview applies that
option and says so in ``DEID_PROFILE``).
"""
from __future__ import annotations

import hashlib

from pydicom.dataset import Dataset
from pydicom.tag import Tag

DEID_PROFILE = ("DICOM PS3.15 Basic Application Level Confidentiality Profile with the Retain Patient "
                "Characteristics Option (PatientSex, PatientAge kept); all private tags removed; UIDs replaced")

# keyword list of the Basic Profile attributes (PS3.15 Table E.1-1) relevant to image objects.
BASIC_PROFILE_REMOVE: tuple[str, ...] = (
    # patient identity
    "PatientName", "PatientID", "IssuerOfPatientID", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "PatientBirthDate", "PatientBirthTime",
    "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation", "PatientInsurancePlanCodeSequence",
    "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup", "Occupation",
    "AdditionalPatientHistory", "PatientComments", "PatientReligiousPreference", "PatientSize", "PatientWeight",
    "CountryOfResidence", "RegionOfResidence", "PregnancyStatus", "SmokingStatus", "LastMenstrualDate",
    "MedicalAlerts", "Allergies", "ResponsiblePerson", "ResponsibleOrganization", "PatientState",
    "PatientTransportArrangements", "PatientPrimaryLanguageCodeSequence", "InsurancePlanIdentification",
    # study / visit / request
    "AccessionNumber", "StudyID", "StudyDescription", "SeriesDescription", "RequestingPhysician",
    "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence", "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorsName", "OperatorIdentificationSequence",
    "AdmittingDiagnosesDescription", "AdmissionID", "IssuerOfAdmissionID", "ServiceEpisodeID",
    "RequestAttributesSequence", "RequestedProcedureID", "RequestedProcedureDescription",
    "ScheduledProcedureStepID", "PerformedProcedureStepID", "PerformedProcedureStepDescription",
    "ReasonForStudy", "RequestedContrastAgent", "StudyComments", "ImageComments", "DerivationDescription",
    "CurrentPatientLocation", "PatientInstitutionResidence", "ProtocolName", "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest", "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "ReferencedImageSequence", "SourceImageSequence",
    "ContentSequence", "VerifyingObserverName", "VerifyingObserverSequence", "PersonName",
    # institution / device
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "StationName", "DeviceSerialNumber", "DetectorID", "PlateID", "GantryID", "CassetteID", "DeviceUID",
    # dates and times (removed: the Basic Profile's Retain Longitudinal option is not applied)
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "OverlayDate", "CurveDate",
    "AcquisitionDateTime", "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "OverlayTime", "CurveTime",
    "InstanceCreationDate", "InstanceCreationTime", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime",
    "DateOfLastCalibration", "TimeOfLastCalibration", "DateOfSecondaryCapture", "TimeOfSecondaryCapture",
    "AdmittingDate", "AdmittingTime", "DischargeDate", "DischargeTime", "IssueDateOfImagingServiceRequest",
    "IssueTimeOfImagingServiceRequest", "FrameReferenceDateTime", "ScheduledProcedureStepStartDate",
    # misc free text that may carry identities
    "TextComments", "TextString", "Impressions", "InterpretationText", "InterpretationAuthor",
    "RequestingService", "InstanceCreatorUID", "StorageMediaFileSetUID", "IconImageSequence",
    "DigitalSignaturesSequence", "OriginalAttributesSequence", "ModifiedAttributesSequence",
)

# UIDs replaced (not removed): the objects must still be distinct and consistent within a study.
UIDS_REPLACE: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "SynchronizationFrameOfReferenceUID", "ConcatenationUID", "IrradiationEventUID",
    "DimensionOrganizationUID", "ReferencedSOPInstanceUID", "TargetUID",
)

# never removed (documented for the UI): what display and the models need
KEEP: tuple[str, ...] = (
    "Modality", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
    "PixelRepresentation", "SamplesPerPixel", "PlanarConfiguration", "NumberOfFrames", "PixelData",
    "RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth", "VOILUTFunction",
    "VOILUTSequence", "ModalityLUTSequence", "PixelSpacing", "ImagerPixelSpacing", "SliceThickness",
    "ViewPosition", "BodyPartExamined", "PatientSex", "PatientAge", "SOPClassUID", "SpecificCharacterSet",
)

_UID_ROOT = "2.25."  # UUID-derived OID root (PS3.5 B.2)


def _new_uid(old: str) -> str:
    # deterministic (same input -> same output, so a study stays consistent) yet not reversible
    h = hashlib.sha256(b"hcview-deid:" + str(old).encode()).digest()[:16]
    return _UID_ROOT + str(int.from_bytes(h, "big"))


def deidentify(ds: Dataset) -> tuple[Dataset, list[dict]]:
    """Remove identifying attributes in place and return ``(ds, removed)``.

    ``removed`` lists ``{"keyword", "tag", "action"}`` (action 'removed' or 'uid replaced'),
    in the order found, so the UI can show exactly what was taken out.
    """
    removed: list[dict] = []

    def note(tag, keyword, action):
        removed.append({"keyword": keyword or "(private)", "tag": f"({tag.group:04X},{tag.element:04X})",
                        "action": action})

    # private tags first (recursively, including inside sequences)
    def strip_private(d: Dataset):
        for elem in list(d):
            if elem.tag.is_private:
                note(elem.tag, elem.keyword or elem.name, "removed (private)")
                del d[elem.tag]
            elif elem.VR == "SQ":
                for item in elem.value:
                    strip_private(item)

    strip_private(ds)
    for kw in BASIC_PROFILE_REMOVE:
        if kw in KEEP:  # pragma: no cover - guard against editing mistakes
            continue
        if kw in ds:
            tag = Tag(kw)
            del ds[tag]
            note(tag, kw, "removed")
    # overlays / curves (groups 60xx, 50xx) may burn in text
    for elem in list(ds):
        if (elem.tag.group & 0xFF00) in (0x6000, 0x5000):
            note(elem.tag, elem.keyword, "removed")
            del ds[elem.tag]
    for kw in UIDS_REPLACE:
        if kw in ds and ds[kw].VR == "UI" and ds[kw].value:
            ds[kw].value = _new_uid(ds[kw].value)
            note(Tag(kw), kw, "uid replaced")
    fm = getattr(ds, "file_meta", None)
    if fm is not None and "MediaStorageSOPInstanceUID" in fm:
        fm.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", _new_uid(fm.MediaStorageSOPInstanceUID))
        note(Tag("MediaStorageSOPInstanceUID"), "MediaStorageSOPInstanceUID", "uid replaced")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEID_PROFILE[:64]
    return ds, removed

"""The attributes of DICOM PS3.15 Annex E Table E.1-1, the Basic Application Level Confidentiality
Profile's table, with the profile's action for each, and a check of one file against them.

Source: DICOM PS3.15 2024b, Table E.1-1 "Application Level Confidentiality Profile Attributes",
column "Basic Prof." (https://dicom.nema.org/medical/dicom/2024b/output/chtml/part15/chapter_E.html),
all 620 rows, cross-read with the per-action lists KitwareMedical/dicom-anonymizer keeps for the same
edition. Keywords are pydicom's. Actions: D replace with a dummy value, Z empty or dummy, X remove,
U replace the UID consistently, and the combined ones (X/Z, X/D, X/Z/D, Z/D, X/Z/U*). Rows for
repeating groups (Curve Data 50xx, Overlay Data and Comments 60xx) hold the group's first value.

:func:`check` compares an input with its de-identified output at every level of nesting (file meta
included) and counts each profile attribute present in the input as removed, emptied, replaced or
left, with the reason; :func:`enforce` applies the action to whatever is still left with its value.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Key = tuple[int, ...]  # (sequence tag, item index, ...) then the attribute's tag; -1 first for file meta

#: (tag, keyword, basic-profile action), sorted by tag.
BASIC_PROFILE: tuple[tuple[int, str, str], ...] = (
    (0x00001000, "AffectedSOPInstanceUID", "X"),
    (0x00001001, "RequestedSOPInstanceUID", "U"),
    (0x00020003, "MediaStorageSOPInstanceUID", "U"),
    (0x00041511, "ReferencedSOPInstanceUIDInFile", "U"),
    (0x00080012, "InstanceCreationDate", "X/D"),
    (0x00080013, "InstanceCreationTime", "X/Z/D"),
    (0x00080014, "InstanceCreatorUID", "U"),
    (0x00080015, "InstanceCoercionDateTime", "X"),
    (0x00080017, "AcquisitionUID", "U"),
    (0x00080018, "SOPInstanceUID", "U"),
    (0x00080019, "PyramidUID", "U"),
    (0x00080020, "StudyDate", "Z"),
    (0x00080021, "SeriesDate", "X/D"),
    (0x00080022, "AcquisitionDate", "X/Z"),
    (0x00080023, "ContentDate", "Z/D"),
    (0x00080024, "OverlayDate", "X"),
    (0x00080025, "CurveDate", "X"),
    (0x0008002A, "AcquisitionDateTime", "X/Z/D"),
    (0x00080030, "StudyTime", "Z"),
    (0x00080031, "SeriesTime", "X/D"),
    (0x00080032, "AcquisitionTime", "X/Z"),
    (0x00080033, "ContentTime", "Z/D"),
    (0x00080034, "OverlayTime", "X"),
    (0x00080035, "CurveTime", "X"),
    (0x00080050, "AccessionNumber", "Z"),
    (0x00080054, "RetrieveAETitle", "X"),
    (0x00080055, "StationAETitle", "X"),
    (0x00080058, "FailedSOPInstanceUIDList", "U"),
    (0x00080080, "InstitutionName", "X/Z/D"),
    (0x00080081, "InstitutionAddress", "X"),
    (0x00080082, "InstitutionCodeSequence", "X/Z/D"),
    (0x00080090, "ReferringPhysicianName", "Z"),
    (0x00080092, "ReferringPhysicianAddress", "X"),
    (0x00080094, "ReferringPhysicianTelephoneNumbers", "X"),
    (0x00080096, "ReferringPhysicianIdentificationSequence", "X"),
    (0x0008009C, "ConsultingPhysicianName", "Z"),
    (0x0008009D, "ConsultingPhysicianIdentificationSequence", "X"),
    (0x00080106, "ContextGroupVersion", "D"),
    (0x00080107, "ContextGroupLocalVersion", "D"),
    (0x00080201, "TimezoneOffsetFromUTC", "X"),
    (0x00081000, "NetworkID", "X"),
    (0x00081010, "StationName", "X/Z/D"),
    (0x00081030, "StudyDescription", "X"),
    (0x0008103E, "SeriesDescription", "X"),
    (0x00081040, "InstitutionalDepartmentName", "X"),
    (0x00081041, "InstitutionalDepartmentTypeCodeSequence", "X"),
    (0x00081048, "PhysiciansOfRecord", "X"),
    (0x00081049, "PhysiciansOfRecordIdentificationSequence", "X"),
    (0x00081050, "PerformingPhysicianName", "X"),
    (0x00081052, "PerformingPhysicianIdentificationSequence", "X"),
    (0x00081060, "NameOfPhysiciansReadingStudy", "X"),
    (0x00081062, "PhysiciansReadingStudyIdentificationSequence", "X"),
    (0x00081070, "OperatorsName", "X/Z/D"),
    (0x00081072, "OperatorIdentificationSequence", "X/D"),
    (0x00081080, "AdmittingDiagnosesDescription", "X"),
    (0x00081084, "AdmittingDiagnosesCodeSequence", "X"),
    (0x00081088, "PyramidDescription", "X"),
    (0x00081110, "ReferencedStudySequence", "X/Z"),
    (0x00081111, "ReferencedPerformedProcedureStepSequence", "X/Z/D"),
    (0x00081120, "ReferencedPatientSequence", "X"),
    (0x00081140, "ReferencedImageSequence", "X/Z/U*"),
    (0x00081155, "ReferencedSOPInstanceUID", "U"),
    (0x00081195, "TransactionUID", "U"),
    (0x00082111, "DerivationDescription", "X"),
    (0x00082112, "SourceImageSequence", "X/Z/U*"),
    (0x00083010, "IrradiationEventUID", "U"),
    (0x00084000, "IdentifyingComments", "X"),
    (0x00100010, "PatientName", "Z"),
    (0x00100020, "PatientID", "Z/D"),
    (0x00100021, "IssuerOfPatientID", "X"),
    (0x00100030, "PatientBirthDate", "Z"),
    (0x00100032, "PatientBirthTime", "X"),
    (0x00100040, "PatientSex", "Z"),
    (0x00100050, "PatientInsurancePlanCodeSequence", "X"),
    (0x00100101, "PatientPrimaryLanguageCodeSequence", "X"),
    (0x00100102, "PatientPrimaryLanguageModifierCodeSequence", "X"),
    (0x00101000, "OtherPatientIDs", "X"),
    (0x00101001, "OtherPatientNames", "X"),
    (0x00101002, "OtherPatientIDsSequence", "X"),
    (0x00101005, "PatientBirthName", "X"),
    (0x00101010, "PatientAge", "X"),
    (0x00101020, "PatientSize", "X"),
    (0x00101030, "PatientWeight", "X"),
    (0x00101040, "PatientAddress", "X"),
    (0x00101050, "InsurancePlanIdentification", "X"),
    (0x00101060, "PatientMotherBirthName", "X"),
    (0x00101080, "MilitaryRank", "X"),
    (0x00101081, "BranchOfService", "X"),
    (0x00101090, "MedicalRecordLocator", "X"),
    (0x00101100, "ReferencedPatientPhotoSequence", "X"),
    (0x00102000, "MedicalAlerts", "X"),
    (0x00102110, "Allergies", "X"),
    (0x00102150, "CountryOfResidence", "X"),
    (0x00102152, "RegionOfResidence", "X"),
    (0x00102154, "PatientTelephoneNumbers", "X"),
    (0x00102155, "PatientTelecomInformation", "X"),
    (0x00102160, "EthnicGroup", "X"),
    (0x00102180, "Occupation", "X"),
    (0x001021A0, "SmokingStatus", "X"),
    (0x001021B0, "AdditionalPatientHistory", "X"),
    (0x001021C0, "PregnancyStatus", "X"),
    (0x001021D0, "LastMenstrualDate", "X"),
    (0x001021F0, "PatientReligiousPreference", "X"),
    (0x00102203, "PatientSexNeutered", "X/Z"),
    (0x00102297, "ResponsiblePerson", "X"),
    (0x00102299, "ResponsibleOrganization", "X"),
    (0x00104000, "PatientComments", "X"),
    (0x00120010, "ClinicalTrialSponsorName", "D"),
    (0x00120020, "ClinicalTrialProtocolID", "D"),
    (0x00120021, "ClinicalTrialProtocolName", "Z"),
    (0x00120022, "IssuerOfClinicalTrialProtocolID", "X"),
    (0x00120023, "OtherClinicalTrialProtocolIDsSequence", "X"),
    (0x00120030, "ClinicalTrialSiteID", "Z"),
    (0x00120031, "ClinicalTrialSiteName", "Z"),
    (0x00120032, "IssuerOfClinicalTrialSiteID", "X"),
    (0x00120040, "ClinicalTrialSubjectID", "D"),
    (0x00120041, "IssuerOfClinicalTrialSubjectID", "X"),
    (0x00120042, "ClinicalTrialSubjectReadingID", "D"),
    (0x00120043, "IssuerOfClinicalTrialSubjectReadingID", "X"),
    (0x00120050, "ClinicalTrialTimePointID", "Z"),
    (0x00120051, "ClinicalTrialTimePointDescription", "X"),
    (0x00120055, "IssuerOfClinicalTrialTimePointID", "X"),
    (0x00120060, "ClinicalTrialCoordinatingCenterName", "Z"),
    (0x00120071, "ClinicalTrialSeriesID", "X"),
    (0x00120072, "ClinicalTrialSeriesDescription", "X"),
    (0x00120073, "IssuerOfClinicalTrialSeriesID", "X"),
    (0x00120081, "ClinicalTrialProtocolEthicsCommitteeName", "D"),
    (0x00120082, "ClinicalTrialProtocolEthicsCommitteeApprovalNumber", "X"),
    (0x00120086, "EthicsCommitteeApprovalEffectivenessStartDate", "X"),
    (0x00120087, "EthicsCommitteeApprovalEffectivenessEndDate", "X"),
    (0x0014407C, "CalibrationTime", "X"),
    (0x0014407E, "CalibrationDate", "X"),
    (0x0016002B, "MakerNote", "X"),
    (0x0016004B, "DeviceSettingDescription", "X"),
    (0x0016004D, "CameraOwnerName", "X"),
    (0x0016004E, "LensSpecification", "X"),
    (0x0016004F, "LensMake", "X"),
    (0x00160050, "LensModel", "X"),
    (0x00160051, "LensSerialNumber", "X"),
    (0x00160070, "GPSVersionID", "X"),
    (0x00160071, "GPSLatitudeRef", "X"),
    (0x00160072, "GPSLatitude", "X"),
    (0x00160073, "GPSLongitudeRef", "X"),
    (0x00160074, "GPSLongitude", "X"),
    (0x00160075, "GPSAltitudeRef", "X"),
    (0x00160076, "GPSAltitude", "X"),
    (0x00160077, "GPSTimeStamp", "X"),
    (0x00160078, "GPSSatellites", "X"),
    (0x00160079, "GPSStatus", "X"),
    (0x0016007A, "GPSMeasureMode", "X"),
    (0x0016007B, "GPSDOP", "X"),
    (0x0016007C, "GPSSpeedRef", "X"),
    (0x0016007D, "GPSSpeed", "X"),
    (0x0016007E, "GPSTrackRef", "X"),
    (0x0016007F, "GPSTrack", "X"),
    (0x00160080, "GPSImgDirectionRef", "X"),
    (0x00160081, "GPSImgDirection", "X"),
    (0x00160082, "GPSMapDatum", "X"),
    (0x00160083, "GPSDestLatitudeRef", "X"),
    (0x00160084, "GPSDestLatitude", "X"),
    (0x00160085, "GPSDestLongitudeRef", "X"),
    (0x00160086, "GPSDestLongitude", "X"),
    (0x00160087, "GPSDestBearingRef", "X"),
    (0x00160088, "GPSDestBearing", "X"),
    (0x00160089, "GPSDestDistanceRef", "X"),
    (0x0016008A, "GPSDestDistance", "X"),
    (0x0016008B, "GPSProcessingMethod", "X"),
    (0x0016008C, "GPSAreaInformation", "X"),
    (0x0016008D, "GPSDateStamp", "X"),
    (0x0016008E, "GPSDifferential", "X"),
    (0x00180010, "ContrastBolusAgent", "Z/D"),
    (0x00180027, "InterventionDrugStopTime", "X"),
    (0x00180035, "InterventionDrugStartTime", "X"),
    (0x00181000, "DeviceSerialNumber", "X/Z/D"),
    (0x00181002, "DeviceUID", "U"),
    (0x00181004, "PlateID", "X"),
    (0x00181005, "GeneratorID", "X"),
    (0x00181007, "CassetteID", "X"),
    (0x00181008, "GantryID", "X"),
    (0x00181009, "UniqueDeviceIdentifier", "X"),
    (0x0018100A, "UDISequence", "X"),
    (0x0018100B, "ManufacturerDeviceClassUID", "U"),
    (0x00181012, "DateOfSecondaryCapture", "X"),
    (0x00181014, "TimeOfSecondaryCapture", "X"),
    (0x00181030, "ProtocolName", "X/D"),
    (0x00181042, "ContrastBolusStartTime", "X"),
    (0x00181043, "ContrastBolusStopTime", "X"),
    (0x00181072, "RadiopharmaceuticalStartTime", "X"),
    (0x00181073, "RadiopharmaceuticalStopTime", "X"),
    (0x00181078, "RadiopharmaceuticalStartDateTime", "X"),
    (0x00181079, "RadiopharmaceuticalStopDateTime", "X"),
    (0x001811BB, "AcquisitionFieldOfViewLabel", "D"),
    (0x00181200, "DateOfLastCalibration", "X"),
    (0x00181201, "TimeOfLastCalibration", "X"),
    (0x00181202, "DateTimeOfLastCalibration", "X"),
    (0x00181203, "CalibrationDateTime", "Z"),
    (0x00181204, "DateOfManufacture", "X"),
    (0x00181205, "DateOfInstallation", "X"),
    (0x00181400, "AcquisitionDeviceProcessingDescription", "X/D"),
    (0x00182042, "TargetUID", "U"),
    (0x00184000, "AcquisitionComments", "X"),
    (0x00185011, "TransducerIdentificationSequence", "X"),
    (0x0018700A, "DetectorID", "X/D"),
    (0x0018700C, "DateOfLastDetectorCalibration", "X/D"),
    (0x0018700E, "TimeOfLastDetectorCalibration", "X/D"),
    (0x00189074, "FrameAcquisitionDateTime", "D"),
    (0x00189151, "FrameReferenceDateTime", "D"),
    (0x00189185, "RespiratoryMotionCompensationTechniqueDescription", "X"),
    (0x00189367, "XRaySourceID", "D"),
    (0x00189369, "SourceStartDateTime", "D"),
    (0x0018936A, "SourceEndDateTime", "D"),
    (0x00189371, "XRayDetectorID", "D"),
    (0x00189373, "XRayDetectorLabel", "X"),
    (0x0018937B, "MultienergyAcquisitionDescription", "X"),
    (0x0018937F, "DecompositionDescription", "X"),
    (0x00189424, "AcquisitionProtocolDescription", "X"),
    (0x00189516, "StartAcquisitionDateTime", "X/D"),
    (0x00189517, "EndAcquisitionDateTime", "X/D"),
    (0x00189623, "FunctionalSyncPulse", "D"),
    (0x00189701, "DecayCorrectionDateTime", "D"),
    (0x00189804, "ExclusionStartDateTime", "D"),
    (0x00189919, "InstructionPerformedDateTime", "Z/D"),
    (0x00189937, "RequestedSeriesDescription", "X"),
    (0x0018A002, "ContributionDateTime", "X"),
    (0x0018A003, "ContributionDescription", "X"),
    (0x0020000D, "StudyInstanceUID", "U"),
    (0x0020000E, "SeriesInstanceUID", "U"),
    (0x00200010, "StudyID", "Z"),
    (0x00200027, "PyramidLabel", "X"),
    (0x00200052, "FrameOfReferenceUID", "U"),
    (0x00200200, "SynchronizationFrameOfReferenceUID", "U"),
    (0x00203401, "ModifyingDeviceID", "X"),
    (0x00203403, "ModifiedImageDate", "X"),
    (0x00203405, "ModifiedImageTime", "X"),
    (0x00203406, "ModifiedImageDescription", "X"),
    (0x00204000, "ImageComments", "X"),
    (0x00209158, "FrameComments", "X"),
    (0x00209161, "ConcatenationUID", "U"),
    (0x00209164, "DimensionOrganizationUID", "U"),
    (0x00281199, "PaletteColorLookupTableUID", "U"),
    (0x00281214, "LargePaletteColorLookupTableUID", "U"),
    (0x00284000, "ImagePresentationComments", "X"),
    (0x00320012, "StudyIDIssuer", "X"),
    (0x00320032, "StudyVerifiedDate", "X"),
    (0x00320033, "StudyVerifiedTime", "X"),
    (0x00320034, "StudyReadDate", "X"),
    (0x00320035, "StudyReadTime", "X"),
    (0x00321000, "ScheduledStudyStartDate", "X"),
    (0x00321001, "ScheduledStudyStartTime", "X"),
    (0x00321010, "ScheduledStudyStopDate", "X"),
    (0x00321011, "ScheduledStudyStopTime", "X"),
    (0x00321020, "ScheduledStudyLocation", "X"),
    (0x00321021, "ScheduledStudyLocationAETitle", "X"),
    (0x00321030, "ReasonForStudy", "X"),
    (0x00321032, "RequestingPhysician", "X"),
    (0x00321033, "RequestingService", "X"),
    (0x00321040, "StudyArrivalDate", "X"),
    (0x00321041, "StudyArrivalTime", "X"),
    (0x00321050, "StudyCompletionDate", "X"),
    (0x00321051, "StudyCompletionTime", "X"),
    (0x00321060, "RequestedProcedureDescription", "X/Z"),
    (0x00321066, "ReasonForVisit", "X"),
    (0x00321067, "ReasonForVisitCodeSequence", "X"),
    (0x00321070, "RequestedContrastAgent", "X"),
    (0x00324000, "StudyComments", "X"),
    (0x00340001, "FlowIdentifierSequence", "D"),
    (0x00340002, "FlowIdentifier", "D"),
    (0x00340005, "SourceIdentifier", "D"),
    (0x00340007, "FrameOriginTimestamp", "D"),
    (0x00380004, "ReferencedPatientAliasSequence", "X"),
    (0x00380010, "AdmissionID", "X"),
    (0x00380011, "IssuerOfAdmissionID", "X"),
    (0x00380014, "IssuerOfAdmissionIDSequence", "X"),
    (0x0038001A, "ScheduledAdmissionDate", "X"),
    (0x0038001B, "ScheduledAdmissionTime", "X"),
    (0x0038001C, "ScheduledDischargeDate", "X"),
    (0x0038001D, "ScheduledDischargeTime", "X"),
    (0x0038001E, "ScheduledPatientInstitutionResidence", "X"),
    (0x00380020, "AdmittingDate", "X"),
    (0x00380021, "AdmittingTime", "X"),
    (0x00380030, "DischargeDate", "X"),
    (0x00380032, "DischargeTime", "X"),
    (0x00380040, "DischargeDiagnosisDescription", "X"),
    (0x00380050, "SpecialNeeds", "X"),
    (0x00380060, "ServiceEpisodeID", "X"),
    (0x00380061, "IssuerOfServiceEpisodeID", "X"),
    (0x00380062, "ServiceEpisodeDescription", "X"),
    (0x00380064, "IssuerOfServiceEpisodeIDSequence", "X"),
    (0x00380300, "CurrentPatientLocation", "X"),
    (0x00380400, "PatientInstitutionResidence", "X"),
    (0x00380500, "PatientState", "X"),
    (0x00384000, "VisitComments", "X"),
    (0x003A0310, "MultiplexGroupUID", "U"),
    (0x003A0314, "ImpedanceMeasurementDateTime", "D"),
    (0x003A0329, "WaveformFilterDescription", "X"),
    (0x003A032B, "FilterLookupTableDescription", "X"),
    (0x00400001, "ScheduledStationAETitle", "X"),
    (0x00400002, "ScheduledProcedureStepStartDate", "X"),
    (0x00400003, "ScheduledProcedureStepStartTime", "X"),
    (0x00400004, "ScheduledProcedureStepEndDate", "X"),
    (0x00400005, "ScheduledProcedureStepEndTime", "X"),
    (0x00400006, "ScheduledPerformingPhysicianName", "X"),
    (0x00400007, "ScheduledProcedureStepDescription", "X"),
    (0x00400009, "ScheduledProcedureStepID", "X"),
    (0x0040000B, "ScheduledPerformingPhysicianIdentificationSequence", "X"),
    (0x00400010, "ScheduledStationName", "X"),
    (0x00400011, "ScheduledProcedureStepLocation", "X"),
    (0x00400012, "PreMedication", "X"),
    (0x00400241, "PerformedStationAETitle", "X"),
    (0x00400242, "PerformedStationName", "X"),
    (0x00400243, "PerformedLocation", "X"),
    (0x00400244, "PerformedProcedureStepStartDate", "X"),
    (0x00400245, "PerformedProcedureStepStartTime", "X"),
    (0x00400250, "PerformedProcedureStepEndDate", "X"),
    (0x00400251, "PerformedProcedureStepEndTime", "X"),
    (0x00400253, "PerformedProcedureStepID", "X"),
    (0x00400254, "PerformedProcedureStepDescription", "X"),
    (0x00400275, "RequestAttributesSequence", "X"),
    (0x00400280, "CommentsOnThePerformedProcedureStep", "X"),
    (0x00400310, "CommentsOnRadiationDose", "X"),
    (0x0040050A, "SpecimenAccessionNumber", "X"),
    (0x00400512, "ContainerIdentifier", "D"),
    (0x00400513, "IssuerOfTheContainerIdentifierSequence", "Z"),
    (0x0040051A, "ContainerDescription", "X"),
    (0x00400551, "SpecimenIdentifier", "D"),
    (0x00400554, "SpecimenUID", "U"),
    (0x00400555, "AcquisitionContextSequence", "X/Z"),
    (0x00400562, "IssuerOfTheSpecimenIdentifierSequence", "Z"),
    (0x00400600, "SpecimenShortDescription", "X"),
    (0x00400602, "SpecimenDetailedDescription", "X"),
    (0x00400610, "SpecimenPreparationSequence", "Z"),
    (0x004006FA, "SlideIdentifier", "X"),
    (0x00401001, "RequestedProcedureID", "X"),
    (0x00401002, "ReasonForTheRequestedProcedure", "X"),
    (0x00401004, "PatientTransportArrangements", "X"),
    (0x00401005, "RequestedProcedureLocation", "X"),
    (0x0040100A, "ReasonForRequestedProcedureCodeSequence", "X"),
    (0x00401010, "NamesOfIntendedRecipientsOfResults", "X"),
    (0x00401011, "IntendedRecipientsOfResultsIdentificationSequence", "X"),
    (0x00401101, "PersonIdentificationCodeSequence", "D"),
    (0x00401102, "PersonAddress", "X"),
    (0x00401103, "PersonTelephoneNumbers", "X"),
    (0x00401104, "PersonTelecomInformation", "X"),
    (0x00401400, "RequestedProcedureComments", "X"),
    (0x00402001, "ReasonForTheImagingServiceRequest", "X"),
    (0x00402004, "IssueDateOfImagingServiceRequest", "X"),
    (0x00402005, "IssueTimeOfImagingServiceRequest", "X"),
    (0x00402008, "OrderEnteredBy", "X"),
    (0x00402009, "OrderEntererLocation", "X"),
    (0x00402010, "OrderCallbackPhoneNumber", "X"),
    (0x00402011, "OrderCallbackTelecomInformation", "X"),
    (0x00402016, "PlacerOrderNumberImagingServiceRequest", "Z"),
    (0x00402017, "FillerOrderNumberImagingServiceRequest", "Z"),
    (0x00402400, "ImagingServiceRequestComments", "X"),
    (0x00403001, "ConfidentialityConstraintOnPatientDataDescription", "X"),
    (0x00404005, "ScheduledProcedureStepStartDateTime", "X"),
    (0x00404008, "ScheduledProcedureStepExpirationDateTime", "X"),
    (0x00404010, "ScheduledProcedureStepModificationDateTime", "X"),
    (0x00404011, "ExpectedCompletionDateTime", "X"),
    (0x00404023, "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID", "U"),
    (0x00404025, "ScheduledStationNameCodeSequence", "X"),
    (0x00404027, "ScheduledStationGeographicLocationCodeSequence", "X"),
    (0x00404028, "PerformedStationNameCodeSequence", "X"),
    (0x00404030, "PerformedStationGeographicLocationCodeSequence", "X"),
    (0x00404034, "ScheduledHumanPerformersSequence", "X"),
    (0x00404035, "ActualHumanPerformersSequence", "X"),
    (0x00404036, "HumanPerformerOrganization", "X"),
    (0x00404037, "HumanPerformerName", "X"),
    (0x00404050, "PerformedProcedureStepStartDateTime", "X"),
    (0x00404051, "PerformedProcedureStepEndDateTime", "X"),
    (0x00404052, "ProcedureStepCancellationDateTime", "X"),
    (0x0040A023, "FindingsGroupRecordingDateTrial", "X"),
    (0x0040A024, "FindingsGroupRecordingTimeTrial", "X"),
    (0x0040A027, "VerifyingOrganization", "D"),
    (0x0040A030, "VerificationDateTime", "D"),
    (0x0040A032, "ObservationDateTime", "X/D"),
    (0x0040A033, "ObservationStartDateTime", "X"),
    (0x0040A073, "VerifyingObserverSequence", "D"),
    (0x0040A075, "VerifyingObserverName", "D"),
    (0x0040A078, "AuthorObserverSequence", "X"),
    (0x0040A07A, "ParticipantSequence", "X"),
    (0x0040A07C, "CustodialOrganizationSequence", "X"),
    (0x0040A082, "ParticipationDateTime", "Z"),
    (0x0040A088, "VerifyingObserverIdentificationCodeSequence", "Z"),
    (0x0040A110, "DateOfDocumentOrVerbalTransactionTrial", "X"),
    (0x0040A112, "TimeOfDocumentCreationOrVerbalTransactionTrial", "X"),
    (0x0040A120, "DateTime", "D"),
    (0x0040A121, "Date", "D"),
    (0x0040A122, "Time", "D"),
    (0x0040A123, "PersonName", "D"),
    (0x0040A124, "UID", "U"),
    (0x0040A13A, "ReferencedDateTime", "D"),
    (0x0040A171, "ObservationUID", "U"),
    (0x0040A172, "ReferencedObservationUIDTrial", "U"),
    (0x0040A192, "ObservationDateTrial", "X"),
    (0x0040A193, "ObservationTimeTrial", "X"),
    (0x0040A307, "CurrentObserverTrial", "X"),
    (0x0040A352, "VerbalSourceTrial", "X"),
    (0x0040A353, "AddressTrial", "X"),
    (0x0040A354, "TelephoneNumberTrial", "X"),
    (0x0040A358, "VerbalSourceIdentifierCodeSequenceTrial", "X"),
    (0x0040A402, "ObservationSubjectUIDTrial", "U"),
    (0x0040A730, "ContentSequence", "D"),
    (0x0040DB06, "TemplateVersion", "X"),
    (0x0040DB07, "TemplateLocalVersion", "X"),
    (0x0040DB0C, "TemplateExtensionOrganizationUID", "U"),
    (0x0040DB0D, "TemplateExtensionCreatorUID", "U"),
    (0x0040E004, "HL7DocumentEffectiveTime", "X"),
    (0x00420011, "EncapsulatedDocument", "D"),
    (0x00440004, "ApprovalStatusDateTime", "X"),
    (0x0044000B, "ProductExpirationDateTime", "X"),
    (0x00440010, "SubstanceAdministrationDateTime", "X"),
    (0x00440104, "AssertionDateTime", "D"),
    (0x00440105, "AssertionExpirationDateTime", "X"),
    (0x0050001B, "ContainerComponentID", "X"),
    (0x00500020, "DeviceDescription", "X"),
    (0x00500021, "LongDeviceDescription", "X"),
    (0x00620021, "TrackingUID", "U"),
    (0x00640003, "SourceFrameOfReferenceUID", "U"),
    (0x00686226, "EffectiveDateTime", "D"),
    (0x00686270, "InformationIssueDateTime", "D"),
    (0x006A0003, "AnnotationGroupUID", "D"),
    (0x006A0005, "AnnotationGroupLabel", "D"),
    (0x006A0006, "AnnotationGroupDescription", "X"),
    (0x00700001, "GraphicAnnotationSequence", "D"),
    (0x00700082, "PresentationCreationDate", "X"),
    (0x00700083, "PresentationCreationTime", "X"),
    (0x00700084, "ContentCreatorName", "Z/D"),
    (0x00700086, "ContentCreatorIdentificationCodeSequence", "X"),
    (0x0070031A, "FiducialUID", "U"),
    (0x00701101, "PresentationDisplayCollectionUID", "U"),
    (0x00701102, "PresentationSequenceCollectionUID", "U"),
    (0x0072000A, "HangingProtocolCreationDateTime", "D"),
    (0x0072005E, "SelectorAEValue", "D"),
    (0x0072005F, "SelectorASValue", "D"),
    (0x00720061, "SelectorDAValue", "D"),
    (0x00720063, "SelectorDTValue", "D"),
    (0x00720065, "SelectorOBValue", "D"),
    (0x00720066, "SelectorLOValue", "D"),
    (0x00720068, "SelectorLTValue", "D"),
    (0x0072006A, "SelectorPNValue", "D"),
    (0x0072006B, "SelectorTMValue", "D"),
    (0x0072006C, "SelectorSHValue", "D"),
    (0x0072006D, "SelectorUNValue", "D"),
    (0x0072006E, "SelectorSTValue", "D"),
    (0x00720070, "SelectorUTValue", "D"),
    (0x00720071, "SelectorURValue", "D"),
    (0x00741234, "ReceivingAE", "X"),
    (0x00741236, "RequestingAE", "X"),
    (0x00880140, "StorageMediaFileSetUID", "U"),
    (0x00880200, "IconImageSequence", "X"),
    (0x00880904, "TopicTitle", "X"),
    (0x00880906, "TopicSubject", "X"),
    (0x00880910, "TopicAuthor", "X"),
    (0x00880912, "TopicKeywords", "X"),
    (0x01000420, "SOPAuthorizationDateTime", "X"),
    (0x04000100, "DigitalSignatureUID", "U"),
    (0x04000105, "DigitalSignatureDateTime", "D"),
    (0x04000115, "CertificateOfSigner", "D"),
    (0x04000310, "CertifiedTimestamp", "X"),
    (0x04000402, "ReferencedDigitalSignatureSequence", "X"),
    (0x04000403, "ReferencedSOPInstanceMACSequence", "X"),
    (0x04000404, "MAC", "X"),
    (0x04000550, "ModifiedAttributesSequence", "X"),
    (0x04000551, "NonconformingModifiedAttributesSequence", "X"),
    (0x04000552, "NonconformingDataElementValue", "X"),
    (0x04000561, "OriginalAttributesSequence", "X"),
    (0x04000562, "AttributeModificationDateTime", "D"),
    (0x04000563, "ModifyingSystem", "D"),
    (0x04000564, "SourceOfPreviousValues", "Z"),
    (0x04000565, "ReasonForTheAttributeModification", "D"),
    (0x04000600, "InstanceOriginStatus", "X"),
    (0x20300020, "TextString", "X"),
    (0x21000040, "CreationDate", "X"),
    (0x21000050, "CreationTime", "X"),
    (0x21000070, "Originator", "X"),
    (0x21000140, "DestinationAE", "D"),
    (0x22000002, "LabelText", "X/Z"),
    (0x22000005, "BarcodeValue", "X/Z"),
    (0x30020121, "PositionAcquisitionTemplateName", "X"),
    (0x30020123, "PositionAcquisitionTemplateDescription", "X"),
    (0x30060002, "StructureSetLabel", "D"),
    (0x30060004, "StructureSetName", "X"),
    (0x30060006, "StructureSetDescription", "X"),
    (0x30060008, "StructureSetDate", "Z"),
    (0x30060009, "StructureSetTime", "Z"),
    (0x30060024, "ReferencedFrameOfReferenceUID", "U"),
    (0x30060026, "ROIName", "Z"),
    (0x30060028, "ROIDescription", "X"),
    (0x3006002D, "ROIDateTime", "X"),
    (0x3006002E, "ROIObservationDateTime", "X"),
    (0x30060038, "ROIGenerationDescription", "X"),
    (0x3006004D, "ROICreatorSequence", "X"),
    (0x3006004E, "ROIInterpreterSequence", "X"),
    (0x30060085, "ROIObservationLabel", "X"),
    (0x30060088, "ROIObservationDescription", "X"),
    (0x300600A6, "ROIInterpreter", "Z"),
    (0x300600C2, "RelatedFrameOfReferenceUID", "U"),
    (0x30080024, "TreatmentControlPointDate", "D"),
    (0x30080025, "TreatmentControlPointTime", "D"),
    (0x30080054, "FirstTreatmentDate", "X/D"),
    (0x30080056, "MostRecentTreatmentDate", "X/D"),
    (0x30080105, "SourceSerialNumber", "X/Z"),
    (0x30080162, "SafePositionExitDate", "D"),
    (0x30080164, "SafePositionExitTime", "D"),
    (0x30080166, "SafePositionReturnDate", "D"),
    (0x30080168, "SafePositionReturnTime", "D"),
    (0x30080250, "TreatmentDate", "X/D"),
    (0x30080251, "TreatmentTime", "X/D"),
    (0x300A0002, "RTPlanLabel", "D"),
    (0x300A0003, "RTPlanName", "X"),
    (0x300A0004, "RTPlanDescription", "X"),
    (0x300A0006, "RTPlanDate", "X/D"),
    (0x300A0007, "RTPlanTime", "X/D"),
    (0x300A000B, "TreatmentSites", "X"),
    (0x300A000E, "PrescriptionDescription", "X"),
    (0x300A0013, "DoseReferenceUID", "U"),
    (0x300A0016, "DoseReferenceDescription", "X"),
    (0x300A0072, "FractionGroupDescription", "X"),
    (0x300A0083, "ReferencedDoseReferenceUID", "U"),
    (0x300A00B2, "TreatmentMachineName", "X/Z"),
    (0x300A00C3, "BeamDescription", "X"),
    (0x300A00DD, "BolusDescription", "X"),
    (0x300A0196, "FixationDeviceDescription", "X"),
    (0x300A01A6, "ShieldingDeviceDescription", "X"),
    (0x300A01B2, "SetupTechniqueDescription", "X"),
    (0x300A0216, "SourceManufacturer", "X"),
    (0x300A022C, "SourceStrengthReferenceDate", "D"),
    (0x300A022E, "SourceStrengthReferenceTime", "D"),
    (0x300A02EB, "CompensatorDescription", "X"),
    (0x300A0608, "TreatmentPositionGroupLabel", "D"),
    (0x300A0609, "TreatmentPositionGroupUID", "U"),
    (0x300A0611, "RTAccessoryHolderSlotID", "Z"),
    (0x300A0615, "RTAccessoryDeviceSlotID", "Z"),
    (0x300A0619, "RadiationDoseIdentificationLabel", "D"),
    (0x300A0623, "RadiationDoseInVivoMeasurementLabel", "D"),
    (0x300A062A, "RTToleranceSetLabel", "D"),
    (0x300A0650, "PatientSetupUID", "U"),
    (0x300A0676, "EquipmentFrameOfReferenceDescription", "X"),
    (0x300A067C, "RadiationGenerationModeLabel", "D"),
    (0x300A067D, "RadiationGenerationModeDescription", "Z"),
    (0x300A0700, "TreatmentSessionUID", "U"),
    (0x300A0734, "TreatmentToleranceViolationDescription", "D"),
    (0x300A0736, "TreatmentToleranceViolationDateTime", "D"),
    (0x300A073A, "RecordedRTControlPointDateTime", "D"),
    (0x300A0741, "InterlockDateTime", "D"),
    (0x300A0742, "InterlockDescription", "D"),
    (0x300A0760, "OverrideDateTime", "D"),
    (0x300A0783, "InterlockOriginDescription", "D"),
    (0x300A0785, "ReferencedTreatmentPositionGroupUID", "U"),
    (0x300A078E, "PatientTreatmentPreparationProcedureParameterDescription", "X"),
    (0x300A0792, "PatientTreatmentPreparationMethodDescription", "X"),
    (0x300A0794, "PatientSetupPhotoDescription", "X"),
    (0x300A079A, "DisplacementReferenceLabel", "X"),
    (0x300C0113, "ReasonForOmissionDescription", "X"),
    (0x300C0127, "BeamHoldTransitionDateTime", "D"),
    (0x300E0004, "ReviewDate", "Z"),
    (0x300E0005, "ReviewTime", "Z"),
    (0x300E0008, "ReviewerName", "X/Z"),
    (0x30100006, "ConceptualVolumeUID", "U"),
    (0x3010000B, "ReferencedConceptualVolumeUID", "U"),
    (0x3010000F, "ConceptualVolumeCombinationDescription", "Z"),
    (0x30100013, "ConstituentConceptualVolumeUID", "U"),
    (0x30100015, "SourceConceptualVolumeUID", "U"),
    (0x30100017, "ConceptualVolumeDescription", "Z"),
    (0x3010001B, "DeviceAlternateIdentifier", "Z"),
    (0x3010002D, "DeviceLabel", "D"),
    (0x30100031, "ReferencedFiducialsUID", "U"),
    (0x30100033, "UserContentLabel", "D"),
    (0x30100034, "UserContentLongLabel", "D"),
    (0x30100035, "EntityLabel", "D"),
    (0x30100036, "EntityName", "X"),
    (0x30100037, "EntityDescription", "X"),
    (0x30100038, "EntityLongLabel", "D"),
    (0x3010003B, "RTTreatmentPhaseUID", "U"),
    (0x30100043, "ManufacturerDeviceIdentifier", "Z"),
    (0x3010004C, "IntendedPhaseStartDate", "X/D"),
    (0x3010004D, "IntendedPhaseEndDate", "X/D"),
    (0x30100054, "RTPrescriptionLabel", "D"),
    (0x30100056, "RTTreatmentApproachLabel", "X/D"),
    (0x3010005A, "RTPhysicianIntentNarrative", "Z"),
    (0x3010005C, "ReasonForSuperseding", "Z"),
    (0x30100061, "PriorTreatmentDoseDescription", "X"),
    (0x3010006E, "DosimetricObjectiveUID", "U"),
    (0x3010006F, "ReferencedDosimetricObjectiveUID", "U"),
    (0x30100077, "TreatmentSite", "X/D"),
    (0x3010007A, "TreatmentTechniqueNotes", "Z"),
    (0x3010007B, "PrescriptionNotes", "Z"),
    (0x3010007F, "FractionationNotes", "Z"),
    (0x30100081, "PrescriptionNotesSequence", "Z"),
    (0x30100085, "IntendedFractionStartTime", "X"),
    (0x40000010, "Arbitrary", "X"),
    (0x40004000, "TextComments", "X"),
    (0x40080040, "ResultsID", "X"),
    (0x40080042, "ResultsIDIssuer", "X"),
    (0x40080100, "InterpretationRecordedDate", "X"),
    (0x40080101, "InterpretationRecordedTime", "X"),
    (0x40080102, "InterpretationRecorder", "X"),
    (0x40080108, "InterpretationTranscriptionDate", "X"),
    (0x40080109, "InterpretationTranscriptionTime", "X"),
    (0x4008010A, "InterpretationTranscriber", "X"),
    (0x4008010B, "InterpretationText", "X"),
    (0x4008010C, "InterpretationAuthor", "X"),
    (0x40080111, "InterpretationApproverSequence", "X"),
    (0x40080112, "InterpretationApprovalDate", "X"),
    (0x40080113, "InterpretationApprovalTime", "X"),
    (0x40080114, "PhysicianApprovingInterpretation", "X"),
    (0x40080115, "InterpretationDiagnosisDescription", "X"),
    (0x40080118, "ResultsDistributionListSequence", "X"),
    (0x40080119, "DistributionName", "X"),
    (0x4008011A, "DistributionAddress", "X"),
    (0x40080200, "InterpretationID", "X"),
    (0x40080202, "InterpretationIDIssuer", "X"),
    (0x40080300, "Impressions", "X"),
    (0x40084000, "ResultsComments", "X"),
    (0x50000000, "CurveData", "X"),
    (0x60003000, "OverlayData", "X"),
    (0x60004000, "OverlayComments", "X"),
    (0xFFFAFFFA, "DigitalSignaturesSequence", "X"),
    (0xFFFCFFFC, "DataSetTrailingPadding", "X"),
)

_ACTIONS = {tag: (keyword, action) for tag, keyword, action in BASIC_PROFILE}
_REPEATING = (0x5000, 0x6000)  # groups 50xx and 60xx: the row names the first of each
EMPTY_INPUT = "kept: empty in the input, no value to identify anyone"
UNCHANGED = "value unchanged"


@dataclass
class ProfileCheck:
    """What happened to the profile's attributes present in the inputs (each occurrence counted once)."""

    checked: int = 0
    removed: int = 0
    emptied: int = 0
    replaced: int = 0
    left: Counter[str] = field(default_factory=Counter)  # reason -> count
    left_identifying: list[str] = field(default_factory=list)  # keywords left with their value

    def add(self, other: ProfileCheck) -> None:
        self.checked += other.checked
        self.removed += other.removed
        self.emptied += other.emptied
        self.replaced += other.replaced
        self.left.update(other.left)
        self.left_identifying += other.left_identifying

    def summary(self) -> str:
        """One line: 'attributes checked 120, removed 40, emptied 5, replaced 70, left 5 (kept: ...: 5)'."""
        reasons = "; ".join(f"{reason}: {n}" for reason, n in sorted(self.left.items()))
        left = sum(self.left.values())
        return (
            f"attributes checked {self.checked}, removed {self.removed}, emptied {self.emptied}, "
            f"replaced {self.replaced}, left {left}" + (f" ({reasons})" if reasons else "")
        )


def profile_action(tag: int) -> tuple[str, str] | None:
    """(keyword, action) of a tag in the basic profile's table, or None when the table has no row for it."""
    found = _ACTIONS.get(tag)
    if found is None and (tag >> 16) & 0xFF00 in _REPEATING:
        found = _ACTIONS.get((((tag >> 16) & 0xFF00) << 16) | (tag & 0xFFFF))
    return found


def elements(dataset: Any, prefix: Key = ()) -> dict[Key, Any]:
    """Every data element of a pydicom dataset, nested ones included, by its position."""
    found: dict[Key, Any] = {}
    for element in dataset:
        found[(*prefix, int(element.tag))] = element
        if element.VR == "SQ":
            for index, item in enumerate(element.value or ()):
                found.update(elements(item, (*prefix, int(element.tag), index)))
    return found


def with_meta(dataset: Any) -> dict[Key, Any]:
    """:func:`elements` of the dataset and of its file meta (keys starting with -1)."""
    meta = getattr(dataset, "file_meta", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings on odd values quote them, and they can be patient data
        return {**(elements(meta, (-1,)) if meta is not None else {}), **elements(dataset)}


def _empty(value: Any) -> bool:
    return value is None or (hasattr(value, "__len__") and len(value) == 0)


def _verdict(before: Any, after: Any | None) -> str:
    """'removed', 'emptied', 'replaced', or the reason it was left."""
    if after is None:
        return "removed"
    if _empty(before.value):
        return EMPTY_INPUT
    if _empty(after.value):
        return "emptied"
    return "replaced" if after.value != before.value else UNCHANGED


def check(before: Any, after: Any) -> ProfileCheck:
    """Count the profile's attributes of ``before`` (a pydicom dataset) by what became of them in ``after``."""
    result = ProfileCheck()
    now = with_meta(after)
    for key, element in with_meta(before).items():
        found = profile_action(key[-1])
        if found is None:
            continue
        result.checked += 1
        verdict = _verdict(element, now.get(key))
        if verdict in ("removed", "emptied", "replaced"):
            setattr(result, verdict, getattr(result, verdict) + 1)
        elif verdict == UNCHANGED:
            result.left[f"{UNCHANGED} ({found[0]}, action {found[1]})"] += 1
            result.left_identifying.append(found[0])
        else:
            result.left[verdict] += 1
    return result


def enforce(before: Any, after: Any) -> int:
    """Apply the profile's action to each attribute of ``after`` still holding its value from ``before``.

    Actions with X remove the attribute; the others (Z, D, Z/D, U) empty it. Returns how many were
    changed. The outermost element is changed first, so a removed sequence takes its items along.
    """
    changed = 0
    previous = with_meta(before)
    for key, element in sorted(with_meta(after).items(), key=lambda item: len(item[0])):
        found = profile_action(key[-1])
        old = previous.get(key)
        if found is None or old is None or _verdict(old, element) != UNCHANGED:
            continue
        parent = _parent(after, key)
        if parent is None or element.tag not in parent:
            continue  # inside a sequence removed a moment ago
        if found[1].startswith("X"):
            del parent[element.tag]
        else:
            parent[element.tag].value = [] if element.VR == "SQ" else None
        changed += 1
    return changed


def _parent(dataset: Any, key: Key) -> Any | None:
    """The dataset (or file meta, or sequence item) that holds the element at ``key``."""
    node = dataset.file_meta if key[0] == -1 else dataset
    path = key[1:-1] if key[0] == -1 else key[:-1]
    for index in range(0, len(path), 2):
        if path[index] not in node:
            return None
        items = node[path[index]].value
        if path[index + 1] >= len(items):
            return None
        node = items[path[index + 1]]
    return node

// Whether a received DICOM instance is something pneumo's model was made for: a frontal chest
// radiograph it can decode. Judged from the header alone, before any pixel is decoded.
//
//   Eligibility e = CheckEligibility(attributes);
//   if (!e.eligible) LogReceived(..., "not_eligible", e.reason);
//
// Rules (absent optional attributes do not disqualify, as many modalities leave them empty):
//   Modality CR, DX or DR; BodyPartExamined CHEST when given; ViewPosition PA or AP when given;
//   PhotometricInterpretation one pneumo decodes (MONOCHROME1/2, RGB, PALETTE COLOR, YBR_FULL,
//   YBR_FULL_422); pixel data present.
// Thread-safe: a pure function.
#pragma once

#include <string>

#include "image/dicom_attributes.h"

namespace pneumo::dicom {

struct Eligibility {
  bool eligible = false;
  std::string reason;  // why not, for the received-instances log; empty when eligible
};

Eligibility CheckEligibility(const image::DicomAttributes& attributes);

}  // namespace pneumo::dicom

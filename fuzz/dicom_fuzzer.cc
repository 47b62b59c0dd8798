// Arbitrary bytes as a received DICOM instance, down the path DicomNode::Receive and the STOW-RS
// route take: ReadDicomAttributes, CheckEligibility, then the decode the prediction runs
// (DecodeForInference, DCMTK with modality LUT, VOI window and MONOCHROME1 inversion); and
// ParsePart10 then WritePart10, as the C-STORE SCP re-encodes what it receives. Checks: an
// eligible instance has pixel data and a SOP Instance UID; a decoded image is CV_32FC1, finite, in
// [0, 1] and within the limits, and comes with the attributes ReadDicomAttributes read (from
// the decoder's own parse); an instance that parses re-encodes, and the re-encoded bytes read back
// with the same identifying attributes.
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

#include "dicom/eligibility.h"
#include "dicom/part10.h"
#include "fuzz_check.h"
#include "image/decode.h"
#include "image/dicom_attributes.h"

namespace {

constexpr pneumo::image::DecodeLimits kLimits{
    .max_side = 4096, .max_pixels = 4'000'000, .max_bytes = 8u << 20};

void CheckRoundTrip(std::span<const std::uint8_t> bytes,
                    const pneumo::image::DicomAttributes& original) {
  auto file = pneumo::dicom::ParsePart10(bytes);
  if (!file) return;  // DCMTK reads the attributes more leniently than a whole file
  DcmDataset& dataset = *(*file)->getDataset();
  E_TransferSyntax xfer = dataset.getOriginalXfer();
  if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
  auto written = pneumo::dicom::WritePart10(dataset, xfer);
  if (!written) return;  // e.g. an element that cannot be written in that syntax: an error value
  auto again = pneumo::image::ReadDicomAttributes(*written);
  FUZZ_CHECK(again.has_value(), "a re-encoded instance does not read back");
  FUZZ_CHECK(again->sop_instance_uid == original.sop_instance_uid &&
                 again->study_instance_uid == original.study_instance_uid &&
                 again->series_instance_uid == original.series_instance_uid &&
                 again->modality == original.modality,
             "re-encoding changed the instance's identifying attributes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pneumo;
  const std::span<const std::uint8_t> bytes(data, size);
  auto attributes = image::ReadDicomAttributes(bytes);
  if (!attributes) return 0;
  const dicom::Eligibility eligibility = dicom::CheckEligibility(*attributes);
  FUZZ_CHECK(eligibility.eligible == eligibility.reason.empty(),
             "an eligibility verdict without a reason, or a reason with eligible");
  if (eligibility.eligible) FUZZ_CHECK(attributes->has_pixel_data, "eligible without pixel data");
  CheckRoundTrip(bytes, *attributes);
  if (attributes->sop_instance_uid.empty() || !eligibility.eligible) return 0;
  // The 128-byte preamble and DICM are what SniffFormat looks for; a dataset without them is
  // refused by the decoder as it is by the upload route.
  auto decoded = image::DecodeForInference(bytes, /*min_side=*/64, kLimits);
  if (!decoded) return 0;
  const cv::Mat& gray = decoded->gray;
  FUZZ_CHECK(gray.type() == CV_32FC1 && gray.cols > 0 && gray.rows > 0,
             "a decoded DICOM image is not a non-empty CV_32FC1");
  FUZZ_CHECK(gray.cols <= kLimits.max_side && gray.rows <= kLimits.max_side &&
                 std::int64_t{gray.cols} * gray.rows <= kLimits.max_pixels,
             "a DICOM image beyond the limits was decoded");
  FUZZ_CHECK(cv::checkRange(gray, /*quiet=*/true, nullptr, 0.0, 1.0 + 1e-6),
             "a decoded DICOM image has values outside [0, 1] or not finite");
  // The serving path takes the study identifiers from the decode: they must be what a parse of
  // their own reads, rendering the pixels first notwithstanding.
  FUZZ_CHECK(decoded->dicom.has_value() && *decoded->dicom == *attributes,
             "the decoder's DICOM attributes differ from ReadDicomAttributes'");
  return 0;
}

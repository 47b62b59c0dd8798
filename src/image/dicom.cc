#include "image/dicom.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>  // registers colour support with dcmimgle (a static object)
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "image/dicom_file.h"
#include "image/image_header.h"

namespace pneumo::image {
namespace {

// DCMTK's codec list and logger are process globals whose set-up is not thread-safe; decoding
// afterwards is. Codecs stay registered for the life of the process: deregistering while another
// thread decodes would be a use-after-free.
void SetUpDcmtkOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs to stderr on its own, outside spdlog. Everything it would say about a bad file
    // reaches the caller in the returned Error, so only fatal messages are left on.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();      // JPEG baseline, extended, lossless
    DJLSDecoderRegistration::registerCodecs();    // JPEG-LS
    DcmRLEDecoderRegistration::registerCodecs();  // RLE lossless
  });
}

constexpr const char* kSupportedSyntaxes =
    "uncompressed, deflated, JPEG baseline/extended/lossless, JPEG-LS and RLE";

Error ImageStatusError(EI_Status status, const std::string& context) {
  const std::string detail = DicomImage::getString(status);
  switch (status) {
    case EIS_NotSupportedValue:
      return Error{ErrorCode::kUnsupportedFormat, context + ": " + detail};
    case EIS_MemoryFailure:
      return Error{ErrorCode::kImageTooLarge, context + ": out of memory"};
    case EIS_NoDataDictionary:
      return Error{ErrorCode::kInternal, context + ": " + detail};
    default:
      // DCMTK's status is terse ("Invalid DICOM image"); the usual causes are these.
      return Error{ErrorCode::kCorruptInput,
                   context + ": " + detail +
                       " (pixel data damaged, or inconsistent with Rows, Columns or Bits "
                       "Allocated)"};
  }
}

// Chooses the VOI transformation in the order the DICOM standard and viewers use. Each step can
// fail on a damaged value (a window of width 0, a malformed LUT), in which case the next applies.
void ApplyVoi(DicomImage& image) {
  if (image.getVoiLutCount() > 0 && image.setVoiLut(0)) return;
  if (image.getWindowCount() > 0 && image.setWindow(0)) return;
  // min-max over the actual pixels (idx 0: do not drop the extreme values). It fails on a
  // constant image, which is then rendered over the full stored range instead.
  if (!image.setMinMaxWindow(0)) image.setNoVoiTransformation();
}

// Colour images have no VOI; DCMTK renders them (palette and YBR included) as interleaved RGB,
// and the luminance uses the same OpenCV weights as the JPEG/PNG path so both agree.
Result<cv::Mat> RenderColour(DicomImage& image) {
  const void* pixels = image.getOutputData(/*bits=*/16, /*frame=*/0, /*planar=*/0);
  if (pixels == nullptr) {
    return std::unexpected(
        ImageStatusError(image.getStatus(), "colour DICOM pixels cannot be rendered"));
  }
  const cv::Mat rgb(static_cast<int>(image.getHeight()), static_cast<int>(image.getWidth()),
                    CV_16UC3, const_cast<void*>(pixels));
  cv::Mat rgb01, gray;
  rgb.convertTo(rgb01, CV_32FC3, 1.0 / 65535.0);  // copies out of DCMTK's internal buffer
  cv::cvtColor(rgb01, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

Result<cv::Mat> RenderMonochrome(DicomImage& image) {
  ApplyVoi(image);
  // 16-bit output keeps the precision of 12- to 16-bit detectors after VOI; the Presentation
  // LUT shape of MONOCHROME1 is applied here, so 0 is black for both photometric kinds.
  const void* pixels = image.getOutputData(/*bits=*/16, /*frame=*/0, /*planar=*/0);
  if (pixels == nullptr) {
    return std::unexpected(ImageStatusError(image.getStatus(), "DICOM pixels cannot be rendered"));
  }
  const cv::Mat rendered(static_cast<int>(image.getHeight()), static_cast<int>(image.getWidth()),
                         CV_16UC1, const_cast<void*>(pixels));
  cv::Mat gray;
  rendered.convertTo(gray, CV_32F, 1.0 / 65535.0);  // copies out of DCMTK's internal buffer
  return gray;
}

Result<cv::Mat> Render(DcmDataset& dataset, E_TransferSyntax xfer) {
  // Partial access with one frame: only the first frame of a multi-frame file is decompressed
  // and converted, so a long cine loop costs no more than a single image.
  DicomImage image(&dataset, xfer, CIF_UsePartialAccessToPixelData, /*fstart=*/0, /*fcount=*/1);
  if (image.getStatus() != EIS_Normal) {
    return std::unexpected(ImageStatusError(image.getStatus(), "DICOM image cannot be read"));
  }
  // Overlays are annotations (ROIs, text), not anatomy; the model was never trained with them.
  image.hideAllOverlays();
  return image.isMonochrome() ? RenderMonochrome(image) : RenderColour(image);
}

// The checks before any parsing, then the one parse (lengths checked, DCMTK from memory).
Result<std::unique_ptr<DcmFileFormat>> ParseForDecoding(std::span<const std::uint8_t> bytes,
                                                        const DecodeLimits& limits) {
  if (bytes.empty()) return Fail(ErrorCode::kEmptyInput, "the DICOM file is empty (0 bytes)");
  if (bytes.size() > limits.max_bytes) {
    return Fail(ErrorCode::kImageTooLarge, "the DICOM file is " + std::to_string(bytes.size()) +
                                               " bytes; the limit is " +
                                               std::to_string(limits.max_bytes) + " bytes");
  }
  SetUpDcmtkOnce();
  return ReadDicomFile(bytes, "DICOM file");
}

// The first frame of a parsed file, rendered as DecodeDicom promises.
Result<cv::Mat> RenderFile(DcmFileFormat& file, const DecodeLimits& limits) {
  try {
    DcmDataset& dataset = *file.getDataset();
    const E_TransferSyntax xfer = dataset.getOriginalXfer();

    if (!dataset.tagExistsWithValue(DCM_PixelData)) {
      return Fail(ErrorCode::kUnsupportedFormat,
                  "DICOM file has no pixel data; it is not an image (perhaps a report or a "
                  "presentation state)");
    }

    // The dimensions come from the dataset, checked before DicomImage allocates anything.
    Uint16 rows = 0, columns = 0;
    if (dataset.findAndGetUint16(DCM_Rows, rows).bad() ||
        dataset.findAndGetUint16(DCM_Columns, columns).bad()) {
      return Fail(ErrorCode::kCorruptInput, "DICOM image lacks Rows or Columns");
    }
    if (auto ok = CheckDimensions(ImageSize{columns, rows}, limits); !ok) {
      return std::unexpected(ok.error());
    }

    // Asked before DicomImage, whose own failure would only say "invalid value".
    const DcmXfer syntax(xfer);
    if (syntax.isEncapsulated() && !DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit)) {
      return Fail(ErrorCode::kUnsupportedFormat,
                  std::string("DICOM transfer syntax \"") + syntax.getXferName() + "\" (" +
                      syntax.getXferID() + ") is not supported; supported are " +
                      kSupportedSyntaxes);
    }
    return Render(dataset, xfer);
  } catch (const std::bad_alloc&) {
    return Fail(ErrorCode::kImageTooLarge, "DICOM image does not fit in memory");
  } catch (const std::exception& e) {
    // DCMTK itself reports through OFCondition; this guards the STL and OpenCV calls around it.
    return Fail(ErrorCode::kCorruptInput, std::string("DICOM file cannot be decoded: ") + e.what());
  }
}

}  // namespace

Result<cv::Mat> DecodeDicom(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  auto file = ParseForDecoding(bytes, limits);
  if (!file) return std::unexpected(file.error());
  return RenderFile(**file, limits);
}

Result<DecodedDicom> DecodeDicomWithAttributes(std::span<const std::uint8_t> bytes,
                                               const DecodeLimits& limits) {
  auto file = ParseForDecoding(bytes, limits);
  if (!file) return std::unexpected(file.error());
  auto gray = RenderFile(**file, limits);
  if (!gray) return std::unexpected(gray.error());
  // After rendering: reading the attributes converts the dataset's strings to UTF-8 in place.
  auto attributes = DicomAttributesOfFile(**file);
  return DecodedDicom{
      .gray = std::move(*gray),
      .attributes = attributes ? std::optional(std::move(*attributes)) : std::nullopt};
}

}  // namespace pneumo::image

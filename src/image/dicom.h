// DICOM decoding with DCMTK, rendered the way a viewer would show the image.
//
//   auto gray = pneumo::image::DecodeDicom(bytes, limits);  // CV_32FC1 in [0, 1]
//   auto both = pneumo::image::DecodeDicomWithAttributes(bytes, limits);  // pixels + header
//
// Applies, in DICOM order: Modality LUT (rescale slope/intercept), VOI (the first VOI LUT, else
// the first Window Center/Width, else the full min-max range), and Presentation (MONOCHROME1 is
// inverted so that 0 is always black). 8 to 16 bits stored; the compressed transfer syntaxes
// DCMTK's codecs handle (JPEG baseline/lossless, JPEG-LS, RLE) are decompressed; others (JPEG
// 2000, video) give kUnsupportedFormat naming the syntax. Only the first frame of a multi-frame
// file is decoded. Colour images become luminance; overlays are not burnt in.
// Thread-safe: codec registration happens once, guarded. That first call also turns DCMTK's own
// stderr logging down to fatal messages only (process-wide), since errors come back as values.
#pragma once

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <span>

#include "core/error.h"
#include "image/decode.h"
#include "image/dicom_attributes.h"

namespace pneumo::image {

Result<cv::Mat> DecodeDicom(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

struct DecodedDicom {
  cv::Mat gray;  // as DecodeDicom gives it
  // What ReadDicomAttributes would read; nullopt in the rare case that DCMTK throws reading the
  // header after it rendered the pixels (the image is still usable).
  std::optional<DicomAttributes> attributes;
};

// DecodeDicom and ReadDicomAttributes from one parse of the bytes, for a caller that needs both
// (the serving path): the same errors as DecodeDicom.
Result<DecodedDicom> DecodeDicomWithAttributes(std::span<const std::uint8_t> bytes,
                                               const DecodeLimits& limits = {});

}  // namespace pneumo::image

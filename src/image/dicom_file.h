// One way to read a DICOM Part 10 file from memory, for every reader of DICOM bytes (the pixel
// decoder, the attribute reader, the DICOM node's re-encoding).
//
//   auto file = ReadDicomFile(bytes, "DICOM file");
//   if (!file) return std::unexpected(file.error());
//   DcmDataset& dataset = *(*file)->getDataset();
//
// The element lengths are checked first (image/dicom_lengths.h), then DCMTK parses straight from
// memory: no temporary file puts health data on disk, and setEos() makes a truncated file fail
// instead of waiting for more bytes. Callers check for empty input themselves, in their own
// words. Thread-safe: a pure function of its input.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/error.h"

class DcmFileFormat;  // DCMTK

namespace pneumo::image {

// kInternal without DCMTK's data dictionary; kCorruptInput naming `what` when the lengths are
// impossible, DCMTK cannot parse the bytes or it throws; kImageTooLarge when it runs out of memory.
Result<std::unique_ptr<DcmFileFormat>> ReadDicomFile(std::span<const std::uint8_t> bytes,
                                                     std::string_view what);

}  // namespace pneumo::image

// DICOM Part 10 files in memory, and UIDs derived from names: the small DCMTK helpers the rest of
// the module shares. Internal to src/dicom (its header exposes DCMTK types).
//
//   auto file = ParsePart10(bytes);             // kCorruptInput on damage
//   auto bytes = WritePart10(*dataset, EXS_LittleEndianExplicit);
//   std::string uid = DerivedUid("sr-series:" + prediction_id);   // "2.25.<decimal>"
//
// Thread-safe: pure functions.
#pragma once

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pneumo::dicom {

// The dataset with a file meta header (its transfer syntax `xfer`), as the bytes of a .dcm file.
// The dataset must already be in `xfer` (true for anything read or received in it).
Result<std::vector<std::uint8_t>> WritePart10(DcmDataset& dataset, E_TransferSyntax xfer);

// kEmptyInput, kCorruptInput (not DICOM, truncated: the message says what DCMTK saw).
Result<std::unique_ptr<DcmFileFormat>> ParsePart10(std::span<const std::uint8_t> bytes);

// A UID under the 2.25 root (a UUID as a decimal integer, PS3.5 B.2) from the first 128 bits of
// SHA-256(seed): the same seed always gives the same UID, so a result re-sent is the same instance.
std::string DerivedUid(std::string_view seed);

}  // namespace pneumo::dicom

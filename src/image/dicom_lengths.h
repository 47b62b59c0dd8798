// A check of a DICOM Part 10 file's element lengths before DCMTK reads it from memory.
//
//   if (auto ok = CheckDicomLengths(bytes); !ok) return std::unexpected(ok.error());
//   file.read(stream);   // now no value DCMTK allocates is longer than the bytes it came in
//
// DCMTK allocates each value at the length its header declares before reading it, so a 300-byte
// upload that declares a 4 GB element made it ask for 4 GB (found by fuzz/dicom_fuzzer.cc). This
// walks the file meta group and the dataset (nested sequences and items, encapsulated pixel
// fragments) in the transfer syntax the meta group names, and refuses any defined length longer
// than what is left of its container, and an encoding it cannot follow (an element without a VR
// in an explicit syntax, a sequence holding something other than items), which no conforming
// file has. A deflated dataset is not walked (its bytes are not elements).
// Thread-safe: a pure function (it reads DCMTK's data dictionary, loaded once by DCMTK).
#pragma once

#include <cstdint>
#include <span>

#include "core/error.h"

namespace pneumo::image {

// kCorruptInput: no "DICM" after the 128-byte preamble, an element or item longer than the bytes
// left for it, an encoding it cannot follow, or sequences nested deeper than 64.
Result<void> CheckDicomLengths(std::span<const std::uint8_t> bytes);

}  // namespace pneumo::image

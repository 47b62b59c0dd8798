#include "dicom/part10.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcostrmb.h>

#include <exception>

#include "core/sha256.h"
#include "image/dicom_file.h"

namespace pneumo::dicom {

Result<std::vector<std::uint8_t>> WritePart10(DcmDataset& dataset, E_TransferSyntax xfer) {
  try {
    DcmFileFormat file(&dataset);  // copies the dataset; the meta header is made below
    if (OFCondition ok = file.validateMetaInfo(xfer); ok.bad()) {
      return Fail(ErrorCode::kInternal,
                  std::string("cannot make the DICOM meta header: ") + ok.text());
    }
    file.removeInvalidGroups();
    // calcElementLength covers meta header and dataset; the slack absorbs padding DCMTK adds.
    const Uint32 length = file.calcElementLength(xfer, EET_ExplicitLength);
    std::vector<std::uint8_t> buffer(static_cast<std::size_t>(length) + 4096);
    DcmOutputBufferStream stream(buffer.data(), static_cast<offile_off_t>(buffer.size()));
    file.transferInit();
    const OFCondition written = file.write(stream, xfer, EET_ExplicitLength, nullptr);
    file.transferEnd();
    if (written.bad()) {
      return Fail(ErrorCode::kInternal,
                  std::string("cannot encode the DICOM file: ") + written.text());
    }
    void* data = nullptr;
    offile_off_t size = 0;
    stream.flushBuffer(data, size);
    buffer.resize(static_cast<std::size_t>(size));
    return buffer;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, std::string("cannot encode the DICOM file: ") + e.what());
  }
}

Result<std::unique_ptr<DcmFileFormat>> ParsePart10(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return Fail(ErrorCode::kEmptyInput, "the DICOM instance is empty (0 bytes)");
  return image::ReadDicomFile(bytes, "DICOM instance");
}

std::string DerivedUid(std::string_view seed) {
  const std::string hex = Sha256Hex(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
  unsigned __int128 value = 0;
  for (char c : hex.substr(0, 32)) {
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return "2.25." + digits;
}

}  // namespace pneumo::dicom

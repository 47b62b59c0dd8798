#include "image/dicom_file.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>

#include <exception>
#include <new>
#include <string>

#include "image/dicom_lengths.h"

namespace pneumo::image {

Result<std::unique_ptr<DcmFileFormat>> ReadDicomFile(std::span<const std::uint8_t> bytes,
                                                     std::string_view what) {
  // Without the dictionary DCMTK parses every element as unknown and fails in obscure ways.
  if (!dcmDataDict.isDictionaryLoaded()) {
    return Fail(ErrorCode::kInternal,
                "the DCMTK data dictionary is not loaded; install libdcmtk17 or set DCMDICTPATH");
  }
  if (auto lengths = CheckDicomLengths(bytes); !lengths) return std::unexpected(lengths.error());
  try {
    DcmInputBufferStream stream;
    stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
    stream.setEos();
    auto file = std::make_unique<DcmFileFormat>();
    file->transferInit();
    const OFCondition read = file->read(stream);
    file->transferEnd();
    if (read.bad()) {
      return Fail(ErrorCode::kCorruptInput,
                  std::string(what) + " cannot be parsed (truncated or damaged): " + read.text());
    }
    return file;
  } catch (const std::bad_alloc&) {
    return Fail(ErrorCode::kImageTooLarge, std::string(what) + " does not fit in memory");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCorruptInput, std::string(what) + " cannot be read: " + e.what());
  }
}

}  // namespace pneumo::image

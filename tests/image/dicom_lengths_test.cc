#include "image/dicom_lengths.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/dicom.h"
#include "image/dicom_attributes.h"
#include "test_images.h"

namespace pneumo::image {
namespace {

using testing::Bytes;

// A small DX image with a sequence whose item holds a UT text, in `xfer`.
Bytes ChestWithSequence(E_TransferSyntax xfer) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  ds.putAndInsertString(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
  ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.10.77.1");
  ds.putAndInsertString(DCM_Modality, "DX");
  ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  DcmItem* item = nullptr;
  EXPECT_TRUE(ds.findOrCreateSequenceItem(DCM_ContentSequence, item, -2).good());
  item->putAndInsertString(DCM_TextValue, "a finding in words");
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds.putAndInsertUint16(DCM_Rows, 4);
  ds.putAndInsertUint16(DCM_Columns, 4);
  ds.putAndInsertUint16(DCM_BitsAllocated, 8);
  ds.putAndInsertUint16(DCM_BitsStored, 8);
  ds.putAndInsertUint16(DCM_HighBit, 7);
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  const std::vector<Uint8> pixels(16, 128);
  ds.putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size());
  testing::TempDir dir;
  const std::string path = (dir / "chest.dcm").string();
  EXPECT_TRUE(file.saveFile(path.c_str(), xfer).good());
  return testing::ReadBytes(path);
}

// The offset of the 4-byte length of the first element `tag` (explicit VR little endian, a VR
// with a 4-byte length: the tag, the VR, 2 reserved bytes, then the length).
std::size_t LengthOffset(const Bytes& bytes, std::uint16_t group, std::uint16_t element) {
  const std::uint8_t tag[4] = {
      static_cast<std::uint8_t>(group & 0xFF), static_cast<std::uint8_t>(group >> 8),
      static_cast<std::uint8_t>(element & 0xFF), static_cast<std::uint8_t>(element >> 8)};
  auto at = std::search(bytes.begin() + 132, bytes.end(), std::begin(tag), std::end(tag));
  EXPECT_NE(at, bytes.end());
  return static_cast<std::size_t>(at - bytes.begin()) + 8;
}

void SetLength(Bytes& bytes, std::size_t offset, std::uint32_t length) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::uint8_t>(length >> (8 * i));
}

TEST(DicomLengths, AcceptsWhatDcmtkWritesInEachUncompressedSyntax) {
  for (E_TransferSyntax xfer :
       {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit, EXS_BigEndianExplicit}) {
    const Bytes bytes = ChestWithSequence(xfer);
    auto checked = CheckDicomLengths(bytes);
    EXPECT_TRUE(checked) << DcmXfer(xfer).getXferName() << ": " << checked.error().message;
    EXPECT_TRUE(DecodeDicom(bytes)) << DcmXfer(xfer).getXferName();
  }
}

// Found by fuzz/dicom_fuzzer.cc and fuzz/image_decode_fuzzer.cc: a few hundred bytes declaring a
// 4 GB element made DCMTK allocate 4 GB before it found the bytes missing.
TEST(DicomLengths, RefusesAnElementLongerThanTheBytesLeftBeforeDcmtkReadsIt) {
  Bytes bytes = ChestWithSequence(EXS_LittleEndianExplicit);
  SetLength(bytes, LengthOffset(bytes, 0x7FE0, 0x0010), 0xFFFFFFF0u);
  auto checked = CheckDicomLengths(bytes);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kCorruptInput);
  EXPECT_NE(checked.error().message.find("(7FE0,0010) declares 4294967280 bytes"),
            std::string::npos)
      << checked.error().message;
  // Every reader of uploaded or received bytes checks first.
  auto decoded = DecodeDicom(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("declares"), std::string::npos);
  auto attributes = ReadDicomAttributes(bytes);
  ASSERT_FALSE(attributes);
  EXPECT_NE(attributes.error().message.find("declares"), std::string::npos);
  EXPECT_FALSE(DecodeForInference(bytes, 0));
}

TEST(DicomLengths, RefusesAnElementLongerThanTheItemThatHoldsIt) {
  Bytes bytes = ChestWithSequence(EXS_LittleEndianExplicit);
  const std::size_t text = LengthOffset(bytes, 0x0040, 0xA160);  // TextValue, UT
  SetLength(bytes, text, 200);  // past its item, though not past the file
  auto checked = CheckDicomLengths(bytes);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("(0040,A160)"), std::string::npos)
      << checked.error().message;
}

TEST(DicomLengths, RefusesBytesThatAreNoPart10File) {
  const Bytes bytes = ChestWithSequence(EXS_LittleEndianExplicit);
  EXPECT_FALSE(CheckDicomLengths(Bytes(bytes.begin() + 132, bytes.end())));  // no preamble
  EXPECT_FALSE(CheckDicomLengths(Bytes(100, 0)));
  Bytes nested = bytes;
  // A file meta element that runs past the end of the file.
  SetLength(nested, 132 + 12 + 8, 0x7FFFFFFF);  // (0002,0001) OB, after (0002,0000) UL
  EXPECT_FALSE(CheckDicomLengths(nested));
}

}  // namespace
}  // namespace pneumo::image

#include "image/dicom.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <gtest/gtest.h>

#include <mutex>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "image/decode.h"
#include "image/dicom_attributes.h"
#include "test_images.h"

namespace pneumo::image {
namespace {

using testing::Bytes;
using testing::FailsWith;
using testing::MaxAbsDiff;

// What goes into a synthetic DICOM file. Pixel values are stored values, before any LUT.
struct DicomSpec {
  Uint16 rows = 4;
  Uint16 columns = 6;
  Uint16 bits_allocated = 16;
  Uint16 bits_stored = 16;
  Uint16 samples_per_pixel = 1;
  Uint16 frames = 1;
  std::string photometric = "MONOCHROME2";
  std::vector<Uint16> pixels = {};  // rows * columns * samples * frames values, row-major
  std::optional<std::pair<std::string, std::string>> rescale = {};  // slope, intercept
  std::optional<std::pair<std::string, std::string>> window = {};   // center, width
  bool with_pixel_data = true;
};

// The left half of the image at `left`, the right half at `right`.
std::vector<Uint16> Halves(const DicomSpec& spec, Uint16 left, Uint16 right) {
  std::vector<Uint16> pixels;
  for (int y = 0; y < spec.rows; ++y) {
    for (int x = 0; x < spec.columns; ++x) pixels.push_back(x < spec.columns / 2 ? left : right);
  }
  return pixels;
}

void RegisterEncodersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    DcmRLEEncoderRegistration::registerCodecs();
    DJEncoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
  });
}

std::unique_ptr<DcmFileFormat> MakeDicom(const DicomSpec& spec) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmDataset& ds = *file->getDataset();
  char uid[100];
  EXPECT_TRUE(ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage).good());
  EXPECT_TRUE(ds.putAndInsertString(DCM_SOPInstanceUID,
                                    dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT))
                  .good());
  ds.putAndInsertString(DCM_Modality, "CR");
  ds.putAndInsertUint16(DCM_Rows, spec.rows);
  ds.putAndInsertUint16(DCM_Columns, spec.columns);
  ds.putAndInsertUint16(DCM_BitsAllocated, spec.bits_allocated);
  ds.putAndInsertUint16(DCM_BitsStored, spec.bits_stored);
  ds.putAndInsertUint16(DCM_HighBit, spec.bits_stored - 1);
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  ds.putAndInsertUint16(DCM_SamplesPerPixel, spec.samples_per_pixel);
  if (spec.samples_per_pixel > 1) ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  if (spec.frames > 1) {
    ds.putAndInsertString(DCM_NumberOfFrames, std::to_string(spec.frames).c_str());
  }
  ds.putAndInsertString(DCM_PhotometricInterpretation, spec.photometric.c_str());
  if (spec.rescale) {
    ds.putAndInsertString(DCM_RescaleSlope, spec.rescale->first.c_str());
    ds.putAndInsertString(DCM_RescaleIntercept, spec.rescale->second.c_str());
  }
  if (spec.window) {
    ds.putAndInsertString(DCM_WindowCenter, spec.window->first.c_str());
    ds.putAndInsertString(DCM_WindowWidth, spec.window->second.c_str());
  }
  if (spec.with_pixel_data) {
    const std::size_t expected =
        std::size_t{spec.rows} * spec.columns * spec.samples_per_pixel * spec.frames;
    EXPECT_EQ(spec.pixels.size(), expected) << "test bug: pixel count does not match the spec";
    if (spec.bits_allocated == 8) {
      const std::vector<Uint8> bytes(spec.pixels.begin(), spec.pixels.end());
      EXPECT_TRUE(ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()).good());
    } else {
      EXPECT_TRUE(
          ds.putAndInsertUint16Array(DCM_PixelData, spec.pixels.data(), spec.pixels.size()).good());
    }
  }
  return file;
}

// Writes `file` in `xfer` (compressing first when needed) and returns the file's bytes.
Bytes Save(DcmFileFormat& file, E_TransferSyntax xfer = EXS_LittleEndianExplicit,
           const DcmRepresentationParameter* params = nullptr) {
  RegisterEncodersOnce();
  if (DcmXfer(xfer).isEncapsulated()) {
    const OFCondition compressed = file.getDataset()->chooseRepresentation(xfer, params);
    EXPECT_TRUE(compressed.good())
        << "compressing to " << DcmXfer(xfer).getXferName() << ": " << compressed.text();
  }
  testing::TempDir dir;
  const std::string path = (dir / "image.dcm").string();
  const OFCondition saved = file.saveFile(path.c_str(), xfer);
  EXPECT_TRUE(saved.good()) << saved.text();
  return testing::ReadBytes(path);
}

Bytes SaveSpec(const DicomSpec& spec, E_TransferSyntax xfer = EXS_LittleEndianExplicit,
               const DcmRepresentationParameter* params = nullptr) {
  return Save(*MakeDicom(spec), xfer, params);
}

cv::Mat DecodeOrFail(const Bytes& bytes) {
  auto gray = DecodeDicom(bytes);
  EXPECT_TRUE(gray.has_value()) << gray.error().ToString();
  if (!gray) return cv::Mat();
  EXPECT_EQ(gray->type(), CV_32FC1);
  return *gray;
}

// A 16-bit ramp that uses the whole 12-bit range, for the compression round trips.
DicomSpec Ramp12() {
  DicomSpec spec{.rows = 32, .columns = 48, .bits_stored = 12};
  for (int y = 0; y < spec.rows; ++y) {
    for (int x = 0; x < spec.columns; ++x) spec.pixels.push_back((x * 85 + y * 3) % 4096);
  }
  return spec;
}

TEST(DecodeDicom, RendersAnEightBitMonochrome2ImageOverItsMinMaxRange) {
  DicomSpec spec{.bits_allocated = 8, .bits_stored = 8};
  spec.pixels = Halves(spec, 10, 200);
  spec.pixels[1] = 105;  // the midpoint
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(gray.rows, 4);
  EXPECT_EQ(gray.cols, 6);
  EXPECT_NEAR(gray.at<float>(0, 0), 0.0f, 1e-4);
  EXPECT_NEAR(gray.at<float>(0, 5), 1.0f, 1e-4);
  EXPECT_NEAR(gray.at<float>(0, 1), 0.5f, 0.01);
}

TEST(DecodeDicom, RendersAMonochrome1ImageWithHighStoredValuesDark) {
  // MONOCHROME1 displays its minimum stored value as white. A region that stores 4000 must come
  // out dark here, or every MONOCHROME1 study (common from CR plates) reaches the model inverted.
  DicomSpec spec{.bits_stored = 12, .photometric = "MONOCHROME1"};
  spec.pixels = Halves(spec, 4000, 100);
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  EXPECT_NEAR(gray.at<float>(0, 0), 0.0f, 1e-4) << "high stored value must render black";
  EXPECT_NEAR(gray.at<float>(0, 5), 1.0f, 1e-4) << "low stored value must render white";

  spec.photometric = "MONOCHROME2";  // the same numbers the other way round
  const cv::Mat mono2 = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(mono2.empty());
  EXPECT_NEAR(mono2.at<float>(0, 0), 1.0f, 1e-4);
  EXPECT_NEAR(mono2.at<float>(0, 5), 0.0f, 1e-4);
}

TEST(DecodeDicom, AppliesRescaleThenTheStoredWindowAndClipsOutsideIt) {
  // Stored s -> value 2s - 1000; window centre 0, width 400 covers values -200..200.
  DicomSpec spec{.rows = 1, .columns = 5, .bits_stored = 12};
  spec.pixels = {300, 500, 550, 700, 4000};  // values -400, 0, 100, 400, 7000
  spec.rescale = {{"2", "-1000"}};
  spec.window = {{"0", "400"}};
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  // DICOM PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5), clipped to [0, 1].
  EXPECT_NEAR(gray.at<float>(0, 0), 0.0f, 1e-4) << "below the window clips to black";
  EXPECT_NEAR(gray.at<float>(0, 1), 0.5 / 399 + 0.5, 2e-3);
  EXPECT_NEAR(gray.at<float>(0, 2), 100.5 / 399 + 0.5, 2e-3);
  EXPECT_NEAR(gray.at<float>(0, 3), 1.0f, 1e-4) << "above the window clips to white";
  EXPECT_NEAR(gray.at<float>(0, 4), 1.0f, 1e-4);
}

TEST(DecodeDicom, PrefersAVoiLutOverTheWindow) {
  DicomSpec spec{.rows = 1, .columns = 3, .bits_allocated = 8, .bits_stored = 8};
  spec.pixels = {0, 128, 255};
  spec.window = {{"128", "256"}};  // would render the ramp as it is
  auto file = MakeDicom(spec);
  DcmItem* lut = nullptr;
  ASSERT_TRUE(file->getDataset()->findOrCreateSequenceItem(DCM_VOILUTSequence, lut, -2).good());
  // 256 entries, first mapped value 0, 16 bits: an inverting LUT.
  const Uint16 descriptor[3] = {256, 0, 16};
  std::vector<Uint16> data(256);
  for (int i = 0; i < 256; ++i) data[i] = static_cast<Uint16>(65535 - i * 257);
  ASSERT_TRUE(lut->putAndInsertUint16Array(DCM_LUTDescriptor, descriptor, 3).good());
  ASSERT_TRUE(lut->putAndInsertUint16Array(DCM_LUTData, data.data(), data.size()).good());
  const cv::Mat gray = DecodeOrFail(Save(*file));
  ASSERT_FALSE(gray.empty());
  EXPECT_NEAR(gray.at<float>(0, 0), 1.0f, 1e-3);
  EXPECT_NEAR(gray.at<float>(0, 1), 1.0f - 128.0f / 255.0f, 1e-2);
  EXPECT_NEAR(gray.at<float>(0, 2), 0.0f, 1e-3);
}

TEST(DecodeDicom, KeepsTwelveBitPrecision) {
  // Adjacent stored values must stay apart: an 8-bit path would merge 2000 and 2001.
  DicomSpec spec{.rows = 1, .columns = 4, .bits_stored = 12};
  spec.pixels = {0, 2000, 2001, 4095};
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  // The min-max window spans 0..4095, so one stored step is about 1/4095 of the output range
  // (DCMTK's exact window edges differ from the textbook formula by half a step).
  EXPECT_NEAR(gray.at<float>(0, 0), 0.0, 1e-4);
  EXPECT_NEAR(gray.at<float>(0, 1), 2000.0 / 4095.0, 1e-3);
  EXPECT_NEAR(gray.at<float>(0, 2) - gray.at<float>(0, 1), 1.0 / 4095.0, 0.2 / 4095.0);
  EXPECT_NEAR(gray.at<float>(0, 3), 1.0, 1e-4);
}

TEST(DecodeDicom, RendersAConstantImageWithoutFailing) {
  // No window and no spread for min-max: falls back to the stored range.
  DicomSpec spec{.bits_stored = 12};
  spec.pixels = Halves(spec, 1000, 1000);
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  EXPECT_TRUE(cv::checkRange(gray, /*quiet=*/true, nullptr, 0.0, 1.0 + 1e-6));
}

TEST(DecodeDicom, DecompressesRleLossless) {
  const DicomSpec spec = Ramp12();
  const cv::Mat reference = DecodeOrFail(SaveSpec(spec));
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec, EXS_RLELossless));
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(MaxAbsDiff(gray, reference), 0.0);
}

TEST(DecodeDicom, DecompressesJpegLossless) {
  const DicomSpec spec = Ramp12();
  const cv::Mat reference = DecodeOrFail(SaveSpec(spec));
  const DJ_RPLossless params;
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec, EXS_JPEGProcess14SV1, &params));
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(MaxAbsDiff(gray, reference), 0.0);
}

TEST(DecodeDicom, DecompressesJpegLs) {
  const DicomSpec spec = Ramp12();
  const cv::Mat reference = DecodeOrFail(SaveSpec(spec));
  const DJLSRepresentationParameter params(/*nearlosslessDeviation=*/0, /*losslessProcess=*/OFTrue);
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec, EXS_JPEGLSLossless, &params));
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(MaxAbsDiff(gray, reference), 0.0);
}

TEST(DecodeDicom, DecompressesLossyJpegBaseline) {
  DicomSpec spec{.rows = 32, .columns = 48, .bits_allocated = 8, .bits_stored = 8};
  for (int y = 0; y < spec.rows; ++y) {
    for (int x = 0; x < spec.columns; ++x) spec.pixels.push_back(x * 5 + y);
  }
  const cv::Mat reference = DecodeOrFail(SaveSpec(spec));
  const DJ_RPLossy params(/*aQuality=*/95);
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec, EXS_JPEGProcess1, &params));
  ASSERT_FALSE(gray.empty());
  EXPECT_LT(cv::mean(cv::abs(gray - reference))[0], 0.02);
}

TEST(DecodeDicom, DecodesOnlyTheFirstFrameOfAMultiFrameFile) {
  DicomSpec spec{.frames = 2};
  spec.pixels = Halves(spec, 0, 1000);
  const std::vector<Uint16> second(std::size_t{spec.rows} * spec.columns, 60000);
  spec.pixels.insert(spec.pixels.end(), second.begin(), second.end());
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(gray.rows, spec.rows);
  EXPECT_EQ(gray.cols, spec.columns);
  // The window comes from the first frame alone, so its two values span black to white.
  EXPECT_NEAR(gray.at<float>(0, 0), 0.0f, 1e-4);
  EXPECT_NEAR(gray.at<float>(0, 5), 1.0f, 1e-4);
}

TEST(DecodeDicom, TurnsAnRgbImageIntoLuminance) {
  DicomSpec spec{.rows = 1,
                 .columns = 4,
                 .bits_allocated = 8,
                 .bits_stored = 8,
                 .samples_per_pixel = 3,
                 .photometric = "RGB"};
  spec.pixels = {255, 0, 0, /**/ 0, 255, 0, /**/ 0, 0, 255, /**/ 128, 128, 128};
  const cv::Mat gray = DecodeOrFail(SaveSpec(spec));
  ASSERT_FALSE(gray.empty());
  EXPECT_NEAR(gray.at<float>(0, 0), 0.299f, 5e-3);
  EXPECT_NEAR(gray.at<float>(0, 1), 0.587f, 5e-3);
  EXPECT_NEAR(gray.at<float>(0, 2), 0.114f, 5e-3);
  EXPECT_NEAR(gray.at<float>(0, 3), 128.0f / 255.0f, 5e-3) << "no contrast stretch on colour";
}

TEST(DecodeDicom, RejectsAFileWithoutPixelData) {
  DicomSpec spec;
  spec.with_pixel_data = false;
  auto gray = DecodeDicom(SaveSpec(spec));
  ASSERT_TRUE(FailsWith(gray, ErrorCode::kUnsupportedFormat));
  EXPECT_NE(gray.error().message.find("pixel data"), std::string::npos) << gray.error().message;
}

TEST(DecodeDicom, RejectsAHeaderClaimingHugeRowsBeforeAllocating) {
  DicomSpec spec;
  spec.pixels = Halves(spec, 1, 2);
  auto file = MakeDicom(spec);
  file->getDataset()->putAndInsertUint16(DCM_Rows, 65000);
  file->getDataset()->putAndInsertUint16(DCM_Columns, 65000);
  EXPECT_TRUE(FailsWith(DecodeDicom(Save(*file)), ErrorCode::kImageTooLarge));
}

TEST(DecodeDicom, RejectsPixelDataShorterThanTheHeaderDeclares) {
  // Within the size limits, so only the pixel data itself can reveal the lie.
  DicomSpec spec;
  spec.pixels = Halves(spec, 1, 2);
  auto file = MakeDicom(spec);
  file->getDataset()->putAndInsertUint16(DCM_Rows, 1000);
  file->getDataset()->putAndInsertUint16(DCM_Columns, 1000);
  EXPECT_TRUE(FailsWith(DecodeDicom(Save(*file)), ErrorCode::kCorruptInput));
}

TEST(DecodeDicom, RejectsAnUnsupportedTransferSyntaxByName) {
  // Encapsulated JPEG 2000 (no codec in DCMTK's free toolkit): an empty offset table and one
  // fragment. The bytes need not be valid: the syntax must be refused before decoding.
  DicomSpec spec;
  spec.with_pixel_data = false;
  auto file = MakeDicom(spec);
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  sequence->insert(new DcmPixelItem(DCM_PixelItemTag));
  auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
  const Bytes codestream = testing::RandomBytes(64, 3);
  fragment->putUint8Array(codestream.data(), codestream.size());
  sequence->insert(fragment);
  auto* pixel_data = new DcmPixelData(DCM_PixelData);
  pixel_data->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, sequence);
  ASSERT_TRUE(file->getDataset()->insert(pixel_data, /*replaceOld=*/true).good());

  auto gray = DecodeDicom(Save(*file, EXS_JPEG2000LosslessOnly));
  ASSERT_TRUE(FailsWith(gray, ErrorCode::kUnsupportedFormat));
  EXPECT_NE(gray.error().message.find("JPEG 2000"), std::string::npos) << gray.error().message;
}

TEST(DecodeDicom, RejectsATruncatedFile) {
  DicomSpec spec{.rows = 64, .columns = 64};
  spec.pixels = Halves(spec, 1, 2);
  const Bytes full = SaveSpec(spec);
  EXPECT_TRUE(
      FailsWith(DecodeDicom(std::span(full).first(full.size() - 100)), ErrorCode::kCorruptInput));
  EXPECT_TRUE(FailsWith(DecodeDicom(std::span(full).first(200)), ErrorCode::kCorruptInput));
}

TEST(DecodeDicom, RejectsEmptyInput) {
  EXPECT_TRUE(FailsWith(DecodeDicom({}), ErrorCode::kEmptyInput));
}

TEST(DecodeDicom, RejectsRandomBytesBehindADicomPreamble) {
  Bytes bytes = testing::RandomBytes(2048, 11);
  std::copy_n("DICM", 4, bytes.begin() + 128);
  auto gray = DecodeDicom(bytes);
  ASSERT_FALSE(gray.has_value());
  EXPECT_TRUE(gray.error().code == ErrorCode::kCorruptInput ||
              gray.error().code == ErrorCode::kUnsupportedFormat)
      << gray.error().ToString();
}

TEST(DecodeImage, SendsDicomFilesToTheDicomDecoder) {
  DicomSpec spec;
  spec.pixels = Halves(spec, 0, 1);
  const Bytes bytes = SaveSpec(spec);
  EXPECT_EQ(SniffFormat(bytes), ImageFormat::kDicom);
  auto gray = DecodeImage(bytes);
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  EXPECT_EQ(gray->rows, 4);
  EXPECT_EQ(gray->cols, 6);
}

TEST(DecodeForInference, GivesADicomFilesAttributesFromTheSameParse) {
  DicomSpec spec;
  spec.pixels = Halves(spec, 0, 1000);
  auto file = MakeDicom(spec);
  DcmDataset& ds = *file->getDataset();
  ds.putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.10.1.7");
  ds.putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.10.1.7.1");
  ds.putAndInsertString(DCM_AccessionNumber, "ACC-42");
  ds.putAndInsertString(DCM_PatientID, "P-0042");
  // Latin-1, as many modalities still send: the attributes come back as UTF-8.
  ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
  ds.putAndInsertString(DCM_PatientName, "M\xfcller^J\xfcrgen");
  const Bytes bytes = Save(*file);

  auto decoded = DecodeForInference(bytes, /*min_side=*/0);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->format, ImageFormat::kDicom);
  EXPECT_EQ(decoded->gray.size(), cv::Size(6, 4));
  ASSERT_TRUE(decoded->dicom.has_value());
  EXPECT_EQ(decoded->dicom->study_instance_uid, "1.2.826.0.1.3680043.10.1.7");
  EXPECT_EQ(decoded->dicom->series_instance_uid, "1.2.826.0.1.3680043.10.1.7.1");
  EXPECT_EQ(decoded->dicom->accession_number, "ACC-42");
  EXPECT_EQ(decoded->dicom->patient_id, "P-0042");
  EXPECT_EQ(decoded->dicom->patient_name, "M\xc3\xbcller^J\xc3\xbcrgen");
  EXPECT_EQ(decoded->dicom->modality, "CR");
  EXPECT_EQ(decoded->dicom->transfer_syntax_uid, UID_LittleEndianExplicitTransferSyntax);
  auto read = ReadDicomAttributes(bytes);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*decoded->dicom, *read) << "the decode's attributes differ from a parse of their own";
}

TEST(DecodeDicomWithAttributes, ReadsTheSameAttributesAsReadDicomAttributesInEverySyntax) {
  // Rendering decompresses the first frame; the attributes read after it must not change.
  const DJ_RPLossless lossless;
  const DJLSRepresentationParameter jpeg_ls(0, OFTrue);
  const std::vector<std::pair<E_TransferSyntax, const DcmRepresentationParameter*>> syntaxes = {
      {EXS_LittleEndianExplicit, nullptr},
      {EXS_LittleEndianImplicit, nullptr},
      {EXS_RLELossless, nullptr},
      {EXS_JPEGProcess14SV1, &lossless},
      {EXS_JPEGLSLossless, &jpeg_ls}};
  for (const auto& [xfer, params] : syntaxes) {
    const Bytes bytes = SaveSpec(Ramp12(), xfer, params);
    auto decoded = DecodeDicomWithAttributes(bytes);
    ASSERT_TRUE(decoded) << DcmXfer(xfer).getXferName() << ": " << decoded.error().ToString();
    EXPECT_EQ(MaxAbsDiff(decoded->gray, DecodeOrFail(bytes)), 0.0) << DcmXfer(xfer).getXferName();
    auto read = ReadDicomAttributes(bytes);
    ASSERT_TRUE(read && decoded->attributes) << DcmXfer(xfer).getXferName();
    EXPECT_EQ(*decoded->attributes, *read) << DcmXfer(xfer).getXferName();
    EXPECT_EQ(decoded->attributes->transfer_syntax_uid, DcmXfer(xfer).getXferID());
  }
}

TEST(DecodeDicomWithAttributes, FailsAsDecodeDicomDoes) {
  DicomSpec spec;
  spec.with_pixel_data = false;
  EXPECT_TRUE(FailsWith(DecodeDicomWithAttributes(SaveSpec(spec)), ErrorCode::kUnsupportedFormat));
  EXPECT_TRUE(FailsWith(DecodeDicomWithAttributes({}), ErrorCode::kEmptyInput));
  spec = DicomSpec{.rows = 64, .columns = 64};
  spec.pixels = Halves(spec, 1, 2);
  const Bytes full = SaveSpec(spec);
  EXPECT_TRUE(FailsWith(DecodeDicomWithAttributes(std::span(full).first(full.size() - 100)),
                        ErrorCode::kCorruptInput));
  EXPECT_TRUE(FailsWith(DecodeDicomWithAttributes(full, DecodeLimits{.max_side = 32}),
                        ErrorCode::kImageTooLarge));
}

TEST(DecodeDicom, DecodesFromSeveralThreadsAtOnce) {
  const Bytes rle = SaveSpec(Ramp12(), EXS_RLELossless);
  const Bytes jpeg_ls = [] {
    const DJLSRepresentationParameter params(0, OFTrue);
    return SaveSpec(Ramp12(), EXS_JPEGLSLossless, &params);
  }();
  const cv::Mat reference = DecodeOrFail(SaveSpec(Ramp12()));
  std::vector<cv::Mat> results(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 10; ++round) {
        auto gray = DecodeDicom(i % 2 ? rle : jpeg_ls);
        if (gray) results[i] = *gray;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const cv::Mat& result : results) {
    ASSERT_FALSE(result.empty());
    EXPECT_EQ(MaxAbsDiff(result, reference), 0.0);
  }
}

}  // namespace
}  // namespace pneumo::image

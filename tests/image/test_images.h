// Helpers shared by the image tests: a scratch directory, in-memory encoding, byte patching and
// an assertion that reads as "this Result failed with that code".
//
//   TempDir dir;
//   auto png = EncodeImage(".png", cv::Mat(4, 4, CV_8UC1, cv::Scalar(7)));
//   EXPECT_TRUE(FailsWith(DecodeImage({}), ErrorCode::kEmptyInput));
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "testing/temp_dir.h"

namespace pneumo::image::testing {

using Bytes = std::vector<std::uint8_t>;

using pneumo::testing::TempDir;

inline Bytes EncodeImage(const std::string& ext, const cv::Mat& image,
                         const std::vector<int>& params = {}) {
  std::vector<std::uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes, params)) << "cv::imencode failed for " << ext;
  return bytes;
}

inline void WriteBytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline Bytes ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Bytes RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return bytes;
}

inline void PutBigEndian16(Bytes& bytes, std::size_t offset, std::uint32_t value) {
  bytes.at(offset) = static_cast<std::uint8_t>(value >> 8);
  bytes.at(offset + 1) = static_cast<std::uint8_t>(value);
}

inline void PutBigEndian32(Bytes& bytes, std::size_t offset, std::uint32_t value) {
  PutBigEndian16(bytes, offset, value >> 16);
  PutBigEndian16(bytes, offset + 2, value & 0xFFFF);
}

// Offset of the first SOF0/SOF2 marker (FF C0 / FF C2) in an OpenCV-encoded JPEG; the height
// field starts 5 bytes after it (marker 2, length 2, precision 1).
inline std::size_t FindStartOfFrame(const Bytes& jpeg) {
  for (std::size_t i = 2; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) return i;
  }
  ADD_FAILURE() << "no SOF marker in the JPEG";
  return 0;
}

// Success when `result` holds an error with `code`; the failure message shows what it got.
template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& result, ErrorCode code) {
  if (result.has_value()) {
    return ::testing::AssertionFailure()
           << "expected error " << ErrorCodeName(code) << " but the call succeeded";
  }
  if (result.error().code != code) {
    return ::testing::AssertionFailure()
           << "expected error " << ErrorCodeName(code) << " but got " << result.error().ToString();
  }
  return ::testing::AssertionSuccess() << result.error().ToString();
}

// Largest absolute difference between two CV_32FC1 images of the same size.
inline double MaxAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_INF);
}

}  // namespace pneumo::image::testing

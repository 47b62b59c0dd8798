#include "core/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pneumo {
namespace {

// RFC 4648 section 10.
TEST(Base64, EncodesTheRfcTestVectors) {
  EXPECT_EQ(Base64Encode(std::string_view("")), "");
  EXPECT_EQ(Base64Encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(Base64Encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(Base64Encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(Base64Encode(std::string_view("foob")), "Zm9vYg==");
  EXPECT_EQ(Base64Encode(std::string_view("fooba")), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64, UsesTheStandardAlphabetWithoutLineBreaks) {
  const std::string bytes = {char(0xfb), char(0xff), char(0xbf)};
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  const std::string long_text(300, 'x');
  const std::string encoded = Base64Encode(long_text);
  EXPECT_EQ(encoded.size(), 400u);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
}

TEST(Base64, DecodesWhatItEncodesForEveryLengthAndByte) {
  std::mt19937 rng(12);
  for (std::size_t length = 0; length < 70; ++length) {
    std::string bytes(length, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    auto back = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(back) << length << ": " << back.error().message;
    EXPECT_EQ(*back, bytes) << "length " << length;
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(Base64Decode(Base64Encode(all)).value_or("?"), all);
}

TEST(Base64, DecodeDropsTheBytesPaddingStandsFor) {
  EXPECT_EQ(Base64Decode("Zg==").value_or("?"), "f");
  EXPECT_EQ(Base64Decode("Zm8=").value_or("?"), "fo");
  EXPECT_EQ(Base64Decode("").value_or("?"), "");
}

TEST(Base64, DecodeRefusesWhatIsNotPaddedBase64) {
  for (const char* bad : {"Zg", "Zm9", "Zm9v!A==", " Zm9v", "Zm9v\n", "Z=9v", "Zm9vYg=A", "===="}) {
    auto decoded = Base64Decode(bad);
    EXPECT_FALSE(decoded) << '"' << bad << "\" decoded to \"" << decoded.value_or("") << '"';
    if (!decoded) {
      EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace pneumo

#include "auth/secrets.h"

#include <gtest/gtest.h>

#include <set>

namespace pneumo::auth {
namespace {

TEST(Secrets, HashesPasswordsWithArgon2idAndASaltSoNoPlaintextIsKept) {
  const std::string password = "correct horse battery staple";
  auto a = HashPassword(password, PasswordHashing::Interactive());
  auto b = HashPassword(password, PasswordHashing::Interactive());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->starts_with("$argon2id$")) << *a;
  EXPECT_NE(*a, *b) << "each hash has its own salt";
  EXPECT_EQ(a->find(password), std::string::npos);
  EXPECT_EQ(a->find("horse"), std::string::npos);
  EXPECT_TRUE(VerifyPassword(*a, password));
  EXPECT_FALSE(VerifyPassword(*a, "correct horse battery stapl"));
  EXPECT_FALSE(VerifyPassword(*a, ""));
  EXPECT_FALSE(VerifyPassword("", password));
  EXPECT_FALSE(VerifyPassword("not a hash", password));
}

TEST(Secrets, TellsWhenAHashNeedsTheCurrentCost) {
  auto cheap = HashPassword("pw", PasswordHashing::ForTestsOnly());
  ASSERT_TRUE(cheap);
  EXPECT_TRUE(VerifyPassword(*cheap, "pw")) << "verification reads the cost from the hash";
  EXPECT_TRUE(PasswordNeedsRehash(*cheap, PasswordHashing::Interactive()));
  EXPECT_FALSE(PasswordNeedsRehash(*cheap, PasswordHashing::ForTestsOnly()));
}

TEST(Secrets, RefusesAbsurdlyLongPasswords) {
  auto hash =
      HashPassword(std::string(kMaxPasswordBytes + 1, 'x'), PasswordHashing::ForTestsOnly());
  ASSERT_FALSE(hash);
  EXPECT_EQ(hash.error().code, ErrorCode::kInvalidArgument);
}

TEST(Secrets, MakesDistinctOneTimePasswordsWithoutLookAlikes) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string otp = GenerateOneTimePassword();
    EXPECT_EQ(otp.size(), 20u);
    EXPECT_EQ(otp.find_first_of("0O1lI"), std::string::npos) << otp;
    seen.insert(otp);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Secrets, MakesRandomHexOfTheAskedSize) {
  const std::string a = RandomHex(32), b = RandomHex(32);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(Secrets, ComparesInConstantTimeButCorrectly) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace pneumo::auth

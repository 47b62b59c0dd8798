// Secrets from libsodium: random values, password hashing (Argon2id), constant-time comparison.
//
//   auto hash = HashPassword("correct horse battery staple");   // "$argon2id$v=19$m=65536,..."
//   if (VerifyPassword(*hash, typed)) { ... }
//   std::string otp = GenerateOneTimePassword();                       // 20 characters, ~117 bits
//   std::string id = RandomHex(8);                              // 16 hex characters
//
// Thread-safe (libsodium is, once initialised; every function here initialises it first).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pneumo::auth {

// Argon2id cost. Verification reads the cost from the hash itself, so hashes made with other
// settings still verify; PasswordNeedsRehash tells when to upgrade one.
struct PasswordHashing {
  unsigned long long opslimit;  // passes over memory
  std::size_t memlimit;         // bytes

  // libsodium's INTERACTIVE (2 passes, 64 MiB): about 0.1 s on one core. The default.
  static PasswordHashing Interactive();
  // libsodium's MIN (1 pass, 8 KiB): for tests only, where hashing speed matters more.
  static PasswordHashing ForTestsOnly();
};

// An Argon2id string (algorithm, parameters, random salt and digest). kInternal when libsodium
// cannot allocate the memory; kInvalidArgument for a password over kMaxPasswordBytes.
Result<std::string> HashPassword(std::string_view password, const PasswordHashing& hashing);
bool VerifyPassword(std::string_view hash, std::string_view password);
bool PasswordNeedsRehash(std::string_view hash, const PasswordHashing& hashing);
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// 20 characters from 57 without look-alikes (no 0/O, 1/l/I): ~117 bits.
std::string GenerateOneTimePassword();
// `bytes` random bytes as lower-case hex.
std::string RandomHex(std::size_t bytes);
// Equal length and equal bytes, in time that depends only on the length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pneumo::auth

#include "auth/secrets.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace pneumo::auth {
namespace {

void EnsureSodium() {
  // sodium_init is itself safe to call from several threads and more than once; it fails only
  // when the system has no usable randomness source, where carrying on would be unsafe.
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

}  // namespace

PasswordHashing PasswordHashing::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordHashing PasswordHashing::ForTestsOnly() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Result<std::string> HashPassword(std::string_view password, const PasswordHashing& hashing) {
  EnsureSodium();
  if (password.size() > kMaxPasswordBytes) {
    return Fail(ErrorCode::kInvalidArgument,
                "passwords may be at most " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), hashing.opslimit,
                            hashing.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Fail(ErrorCode::kInternal, "password hashing ran out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  EnsureSodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES ||
      password.size() > kMaxPasswordBytes) {
    return false;
  }
  char terminated[crypto_pwhash_STRBYTES] = {};
  std::memcpy(terminated, hash.data(), hash.size());
  return crypto_pwhash_str_verify(terminated, password.data(), password.size()) == 0;
}

bool PasswordNeedsRehash(std::string_view hash, const PasswordHashing& hashing) {
  EnsureSodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return true;
  char terminated[crypto_pwhash_STRBYTES] = {};
  std::memcpy(terminated, hash.data(), hash.size());
  return crypto_pwhash_str_needs_rehash(terminated, hashing.opslimit, hashing.memlimit) != 0;
}

std::string GenerateOneTimePassword() {
  EnsureSodium();
  static constexpr char kAlphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::uint32_t kSize = sizeof kAlphabet - 1;
  std::string out;
  for (int i = 0; i < 20; ++i) out += kAlphabet[randombytes_uniform(kSize)];
  return out;
}

std::string RandomHex(std::size_t bytes) {
  EnsureSodium();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  EnsureSodium();
  if (a.size() != b.size()) return false;
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pneumo::auth

// SHA-256 of bytes or a file, as lower-case hex (OpenSSL's EVP interface).
//
//   std::string digest = pneumo::Sha256Hex(bytes);
//   pneumo::Sha256 h; h.Update(a); h.Update(b); std::string d = h.FinishHex();
//
// Sha256 objects are not thread-safe; the free function is.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace pneumo {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const std::uint8_t> bytes);
  void Update(std::string_view text);
  std::string FinishHex();  // the object may not be updated afterwards

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string Sha256Hex(std::span<const std::uint8_t> bytes);

}  // namespace pneumo

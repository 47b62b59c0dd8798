#include "core/sha256.h"

#include <openssl/evp.h>

#include <cstdio>

namespace pneumo {

struct Sha256::Context {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->ctx.get(), EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;

void Sha256::Update(std::span<const std::uint8_t> bytes) {
  EVP_DigestUpdate(context_->ctx.get(), bytes.data(), bytes.size());
}
void Sha256::Update(std::string_view text) {
  EVP_DigestUpdate(context_->ctx.get(), text.data(), text.size());
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx.get(), digest, &length);
  std::string hex(static_cast<std::size_t>(length) * 2, '0');
  for (std::size_t i = 0; i < length; ++i) std::snprintf(&hex[2 * i], 3, "%02x", digest[i]);
  return hex;
}

std::string Sha256Hex(std::span<const std::uint8_t> bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.FinishHex();
}

}  // namespace pneumo

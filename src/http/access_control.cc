#include "http/access_control.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pneumo::http {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 becomes IPv4.
bool ParseAddress(std::string_view text, std::array<std::uint8_t, 16>& bytes, bool& v6) {
  const std::string address(Trim(text));
  bytes = {};
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), bytes.data()) != 1) return false;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(kMapped), std::end(kMapped), bytes.begin())) {
    std::copy(bytes.begin() + 12, bytes.end(), bytes.begin());
    std::fill(bytes.begin() + 4, bytes.end(), 0);
    v6 = false;
    return true;
  }
  v6 = true;
  return true;
}

bool SamePrefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                int prefix) {
  for (int bit = 0; bit < prefix; bit += 8) {
    const int bits = std::min(8, prefix - bit);
    const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
  }
  return true;
}

bool Changes(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Routes a session that must change its password may still reach.
bool AllowedBeforePasswordChange(std::string_view label) {
  return label == "/api/v1/session" || label == "/api/v1/session/password";
}

}  // namespace

Result<NetworkList> NetworkList::Parse(std::string_view text) {
  NetworkList list;
  while (!Trim(text).empty()) {
    const auto comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto bad = [&](std::string_view why) {
      return Fail(ErrorCode::kInvalidArgument,
                  "network '" + std::string(item.substr(0, 64)) +
                      "' is not CIDR (e.g. 10.0.0.0/8 or ::1/128): " + std::string(why));
    };
    if (item.empty()) return bad("empty entry");
    const auto slash = item.find('/');
    Network network;
    if (!ParseAddress(item.substr(0, slash), network.bytes, network.v6)) {
      return bad("not an IP address");
    }
    const int max_prefix = network.v6 ? 128 : 32;
    network.prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), network.prefix);
      if (ec != std::errc() || end != bits.data() + bits.size() || network.prefix < 0 ||
          network.prefix > max_prefix) {
        return bad("the prefix length must be 0.." + std::to_string(max_prefix));
      }
    }
    list.networks_.push_back(network);
  }
  return list;
}

NetworkList NetworkList::Loopback() { return *Parse("127.0.0.0/8,::1/128"); }

std::string ClientAddress(std::string_view peer, std::string_view real_ip_header,
                          const NetworkList& trusted_proxies) {
  if (real_ip_header.empty() || real_ip_header.size() > INET6_ADDRSTRLEN ||
      !trusted_proxies.Contains(peer)) {
    return std::string(peer);
  }
  const std::string candidate(real_ip_header);
  unsigned char parsed[sizeof(in6_addr)];
  const bool is_ip = inet_pton(AF_INET, candidate.c_str(), parsed) == 1 ||
                     inet_pton(AF_INET6, candidate.c_str(), parsed) == 1;
  return is_ip ? candidate : std::string(peer);
}

bool NetworkList::Contains(std::string_view address) const {
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;
  if (!ParseAddress(address, bytes, v6)) return false;
  return std::any_of(networks_.begin(), networks_.end(), [&](const Network& n) {
    return n.v6 == v6 && SamePrefix(n.bytes, bytes, n.prefix);
  });
}

std::string NetworkList::ToString() const {
  std::string out;
  for (const Network& n : networks_) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(n.v6 ? AF_INET6 : AF_INET, n.bytes.data(), text, sizeof text);
    if (!out.empty()) out += ',';
    out += std::string(text) + "/" + std::to_string(n.prefix);
  }
  return out;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semicolon = header.find(';');
    const std::string_view pair = Trim(header.substr(0, semicolon));
    header =
        semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
    const auto equals = pair.find('=');
    if (equals != std::string_view::npos && Trim(pair.substr(0, equals)) == name) {
      return Trim(pair.substr(equals + 1));
    }
  }
  return {};
}

std::string_view BearerToken(std::string_view header) {
  header = Trim(header);
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return {};
  }
  return Trim(header.substr(kScheme.size()));
}

std::string SessionCookieHeader(const auth::Session& session, std::int64_t now_ms, bool secure) {
  const std::int64_t max_age = std::max<std::int64_t>(0, (session.expires_at_ms - now_ms) / 1000);
  return std::string(kSessionCookie) + "=" + session.id +
         "; Path=/; Max-Age=" + std::to_string(max_age) + "; HttpOnly; SameSite=Strict" +
         (secure ? "; Secure" : "");
}

std::string ClearedSessionCookieHeader(bool secure) {
  return std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
         (secure ? "; Secure" : "");
}

Result<AccessDecision> CheckAccess(Access access, std::string_view route_label,
                                   const RequestCredentials& request,
                                   auth::AccountService& accounts, const AccessOptions& options) {
  if (access == Access::kPublic) return AccessDecision{};
  if (access == Access::kLegacy && options.legacy_networks.Contains(request.client_address)) {
    return AccessDecision{};
  }
  const std::string_view bearer = BearerToken(request.authorization);
  if (access == Access::kMetrics) {
    if (options.metrics_networks.Contains(request.client_address)) return AccessDecision{};
    if (bearer.empty()) {
      return Fail(ErrorCode::kUnauthenticated,
                  "metrics are open to the configured networks only, or with an API token");
    }
  }
  AccessDecision decision;
  if (!bearer.empty()) {
    auto principal = accounts.AuthenticateToken(bearer);
    if (!principal) return std::unexpected(principal.error());
    decision.principal = std::move(*principal);
  } else if (const std::string_view cookie = CookieValue(request.cookie, kSessionCookie);
             !cookie.empty()) {
    auto session = accounts.AuthenticateSession(cookie);
    if (!session) return std::unexpected(session.error());
    if (Changes(request.method)) {
      if (auto csrf = accounts.CheckCsrf(*session, request.csrf_token); !csrf) {
        return std::unexpected(csrf.error());
      }
    }
    if (session->principal.must_change_password && !AllowedBeforePasswordChange(route_label)) {
      return Fail(ErrorCode::kPermissionDenied,
                  "change the one-time password first (POST /api/v1/session/password)");
    }
    decision.principal = session->principal;
    decision.session = std::move(*session);
  } else {
    return Fail(ErrorCode::kUnauthenticated,
                "sign in first: log in at /login.html, or send Authorization: Bearer <API token>");
  }
  if (access == Access::kAdmin && decision.principal->role != auth::Role::kAdmin) {
    return Fail(ErrorCode::kPermissionDenied, "only an admin may do this");
  }
  return decision;
}

}  // namespace pneumo::http

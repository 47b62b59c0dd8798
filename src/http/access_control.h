// Who may call a route: the check the route table runs before every handler, once accounts are
// on. Pure policy over auth::AccountService; no httplib, so it is tested without a server.
//
//   AccessOptions options{.metrics_networks = *NetworkList::Parse("127.0.0.1/32,::1/128")};
//   auto decision = CheckAccess(route.access, route.label,
//                               {.method = req.method, .authorization = req.get_header_value(
//                                "Authorization"), .cookie = ..., .csrf_token = ...,
//                                .client_address = req.remote_addr},
//                               accounts, options);
//   if (!decision) return Send(ex, decision.error());   // 401 / 403 through ToHttpError
//   // decision->principal: who it is (absent on public routes and for trusted networks)
//
// Rules (docs/security-api.md): a bearer token wins over the cookie; a cookie session must send
// X-CSRF-Token on every method but GET/HEAD/OPTIONS; a session with must_change_password may
// only reach the session routes; kAdmin needs the admin role; kMetrics is open to the metrics
// networks and otherwise needs a token; kLegacy is open to the legacy networks and otherwise is
// kSignedIn.
//
// Thread-safe: pure functions and immutable NetworkLists.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/account_service.h"
#include "core/error.h"

namespace pneumo::http {

// Who may call a route (each row of the route table says).
enum class Access {
  kPublic,    // anyone: liveness, readiness, the login page and its assets
  kSignedIn,  // a session or an API token, any role
  kAdmin,     // an admin's session or token
  kMetrics,   // the metrics networks, or a token
  kLegacy,    // like kSignedIn, or a client in the legacy networks (the original's routes)
};

// A set of IPv4 and IPv6 networks in CIDR notation.
class NetworkList {
 public:
  // "10.0.0.0/8, 192.168.1.7, ::1/128": comma-separated; a bare address is a /32 (/128).
  // "" is the empty list. kInvalidArgument naming the bad entry.
  static Result<NetworkList> Parse(std::string_view text);
  static NetworkList Loopback();  // 127.0.0.0/8 and ::1/128

  // `address` as httplib gives it (remote_addr). IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4.
  // False for anything that does not parse.
  bool Contains(std::string_view address) const;
  bool empty() const { return networks_.empty(); }
  std::string ToString() const;  // as parsed, canonical, comma-separated

 private:
  struct Network {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool v6 = false;
    int prefix = 0;
  };
  std::vector<Network> networks_;
};

struct AccessOptions {
  NetworkList metrics_networks = NetworkList::Loopback();  // --metrics-networks
  NetworkList legacy_networks;  // --legacy-clients: the original's routes without credentials
  // --trusted-proxies: peers whose X-Real-IP and X-Forwarded-Proto are believed (nginx).
  NetworkList trusted_proxies = NetworkList::Loopback();
};

// The client's address as the access rules, the login limiter and the audit trail see it: the
// X-Real-IP header when the peer is a trusted proxy and the header holds one IP address, else
// the peer itself. Behind nginx every peer is nginx; the rules need the browser's address.
std::string ClientAddress(std::string_view peer, std::string_view real_ip_header,
                          const NetworkList& trusted_proxies);

struct RequestCredentials {
  std::string_view method;          // "GET", "POST"...
  std::string_view authorization;   // the Authorization header, or ""
  std::string_view cookie;          // the Cookie header, or ""
  std::string_view csrf_token;      // the X-CSRF-Token header, or ""
  std::string_view client_address;  // the peer's IP
};

struct AccessDecision {
  std::optional<auth::Principal> principal;  // absent: public route, or a trusted network
  std::optional<auth::Session> session;      // when a cookie authenticated (for the session
                                             // routes: csrf_token, expiry)
};

// kUnauthenticated (401) without usable credentials; kPermissionDenied (403) for a role, a
// missing or wrong CSRF token or a pending password change; kUnavailable when the store is down.
Result<AccessDecision> CheckAccess(Access access, std::string_view route_label,
                                   const RequestCredentials& request,
                                   auth::AccountService& accounts, const AccessOptions& options);

inline constexpr std::string_view kSessionCookie = "pneumo_session";

// The value of cookie `name` in a Cookie header ("a=1; pneumo_session=abc"), or "".
std::string_view CookieValue(std::string_view header, std::string_view name);
// The token of an "Authorization: Bearer <token>" header (scheme case-insensitive), or "".
std::string_view BearerToken(std::string_view header);
// Set-Cookie for a new session: HttpOnly, SameSite=Strict, Path=/, Max-Age until its absolute
// expiry, Secure when `secure` (the request came over TLS).
std::string SessionCookieHeader(const auth::Session& session, std::int64_t now_ms, bool secure);
// Set-Cookie that removes the session cookie.
std::string ClearedSessionCookieHeader(bool secure);

}  // namespace pneumo::http

#include "http/connection_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/socket_options.h"
#include "http/api_json.h"
#include "metrics/registry.h"

namespace pneumo::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// After a refusal the connection is read and dropped for a moment before it is closed: closing
// with unread bytes sends a reset, which can destroy the answer before the client reads it.
constexpr milliseconds kLingerAfterRefusal{1000};
// accept() out of file descriptors: the pending connection stays queued, so the listener stays
// readable; it is left alone this long instead of spinning.
constexpr milliseconds kAcceptPause{100};
constexpr std::size_t kReadChunk = 16u << 10;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

enum class Refusal { kConnectionLimit, kHeadTimeout, kHeadTooLarge, kBodyTooSlow };
constexpr std::array kRefusalReasons = {"connection_limit", "head_timeout", "head_too_large",
                                        "body_too_slow"};

std::string RefusalAnswer(Refusal refusal) {
  int status = 0;
  std::string_view reason, code, message, extra;
  switch (refusal) {
    case Refusal::kConnectionLimit:
      status = 503, reason = "Service Unavailable", code = "too_many_connections";
      message = "the server has as many connections open as it takes; try again shortly";
      extra = "Retry-After: 1\r\n";
      break;
    case Refusal::kHeadTimeout:
      status = 408, reason = "Request Timeout", code = "request_timeout";
      message = "the request's headers did not arrive in time";
      break;
    case Refusal::kHeadTooLarge:
      status = 431, reason = "Request Header Fields Too Large", code = "header_too_large";
      message = "the request's headers are too large or too many";
      break;
    case Refusal::kBodyTooSlow:
      status = 408, reason = "Request Timeout", code = "request_timeout";
      message = "the request's body arrived too slowly";
      break;
  }
  const std::string body = ErrorBody(code, message);
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" +
         std::string(extra) + "\r\n" + body;
}

// Waits until `fd` is ready for `events`: false on timeout or error.
bool WaitFor(int fd, short events, milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const auto left = std::chrono::ceil<milliseconds>(until - Clock::now());
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<milliseconds::rep>(left.count(), 0)));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// Best effort, for the short refusals: the socket buffer takes them whole.
void SendNow(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::pair<std::string, int> NumericAddress(const sockaddr_storage& address, socklen_t length) {
  std::array<char, NI_MAXHOST> host{};
  std::array<char, NI_MAXSERV> service{};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host.data(), host.size(),
                    service.data(), service.size(), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return {"", 0};
  }
  return {host.data(), std::atoi(service.data())};
}

// Keeps pneumo_http_connections_open equal to the connections that exist.
class OpenConnections {
 public:
  explicit OpenConnections(metrics::Gauge* gauge) : gauge_(gauge) {}
  int Add(int delta) {
    const int now = count_.fetch_add(delta) + delta;
    if (gauge_) gauge_->Set(now);
    return now;
  }

 private:
  std::atomic<int> count_{0};
  metrics::Gauge* gauge_;
};

struct Connection {
  Connection(Fd socket, OpenConnections& counter, const ConnectionLimits& limits)
      : fd(std::move(socket)),
        open(counter),
        head(limits.max_head_bytes, limits.max_header_fields) {
    open.Add(1);
  }
  ~Connection() { open.Add(-1); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Fd fd;
  OpenConnections& open;
  std::string peer_ip, local_ip;
  int peer_port = 0, local_port = 0;
  std::string received;  // read and not yet processed: a head arriving, or a pipelined request
  RequestHeadScanner head;
  Clock::time_point deadline;
  bool head_started = false;  // a byte of the next head has arrived
  bool lingering = false;     // refused: read and dropped until the client closes or time is up
  int requests = 0;
};

// The connection as httplib's request processing sees it. Reads come first from what the poller
// already received (the head, perhaps the start of the body), then from the socket, which is
// the body: each socket read must make progress within io_timeout, and the body as a whole must
// keep to body_grace plus min_body_rate. Once that is broken, reads fail and whatever httplib
// then answers is replaced by one 408.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(Connection& connection, const ConnectionLimits& limits,
                   metrics::Counter* too_slow_counter)
      : connection_(connection),
        limits_(limits),
        too_slow_counter_(too_slow_counter),
        buffer_(std::move(connection.received)),
        body_start_(Clock::now()) {}

  bool is_readable() const override {
    return offset_ < buffer_.size() ||
           WaitFor(connection_.fd.get(), POLLIN, std::min(limits_.io_timeout, TimeLeft()));
  }
  bool is_writable() const override {
    return WaitFor(connection_.fd.get(), POLLOUT, limits_.io_timeout);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (too_slow_) return -1;
    if (offset_ == buffer_.size() && !Refill()) return too_slow_ ? -1 : last_read_;
    const std::size_t n = std::min(size, buffer_.size() - offset_);
    std::memcpy(ptr, buffer_.data() + offset_, n);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (too_slow_) {
      AnswerTooSlow();
      return static_cast<ssize_t>(size);  // httplib's own answer is dropped
    }
    for (;;) {
      if (!WaitFor(connection_.fd.get(), POLLOUT, limits_.io_timeout)) return -1;
      const ssize_t n = ::send(connection_.fd.get(), ptr, size, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = connection_.peer_ip;
    port = connection_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = connection_.local_ip;
    port = connection_.local_port;
  }
  // httplib 0.11 was built with select(), and answers 500 for a socket >= FD_SETSIZE; it needs
  // the socket for nothing else here, since every wait goes through this stream's poll().
  socket_t socket() const override { return INVALID_SOCKET; }

  bool too_slow() const { return too_slow_; }
  void AnswerTooSlow() {
    if (answered_) return;
    answered_ = true;
    if (too_slow_counter_) too_slow_counter_->Increment();  // before the client can see it
    SendNow(connection_.fd.get(), RefusalAnswer(Refusal::kBodyTooSlow));
  }
  std::string TakeUnread() { return buffer_.substr(offset_); }

 private:
  milliseconds TimeLeft() const {
    if (limits_.min_body_rate == 0) return limits_.io_timeout;
    const auto allowed =
        body_start_ + limits_.body_grace + milliseconds(body_bytes_ * 1000 / limits_.min_body_rate);
    return std::max(std::chrono::ceil<milliseconds>(allowed - Clock::now()), milliseconds(0));
  }

  // Reads the next chunk of the socket into buffer_: false at the end of the stream, on an error
  // or a timeout (last_read_ then says which, as recv would), or when the body is too slow.
  bool Refill() {
    buffer_.clear();
    offset_ = 0;
    for (;;) {
      const milliseconds left = TimeLeft();
      if (left.count() == 0) {
        too_slow_ = true;
        return false;
      }
      const milliseconds wait = std::min(limits_.io_timeout, left);
      if (!WaitFor(connection_.fd.get(), POLLIN, wait)) {
        if (wait < limits_.io_timeout) continue;  // the rate's deadline: the loop says so
        last_read_ = -1;
        return false;
      }
      buffer_.resize(kReadChunk);
      const ssize_t n = ::recv(connection_.fd.get(), buffer_.data(), buffer_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        buffer_.clear();
        last_read_ = n;
        return false;
      }
      buffer_.resize(static_cast<std::size_t>(n));
      body_bytes_ += static_cast<std::size_t>(n);
      return true;
    }
  }

  Connection& connection_;
  const ConnectionLimits& limits_;
  metrics::Counter* too_slow_counter_;
  std::string buffer_;
  std::size_t offset_ = 0;
  Clock::time_point body_start_;
  std::size_t body_bytes_ = 0;
  ssize_t last_read_ = 0;
  bool too_slow_ = false;
  bool answered_ = false;
};

}  // namespace

struct ConnectionServer::State {
  State(RequestProcessor& routes, const ConnectionLimits& limits, metrics::Registry* registry)
      : routes(routes),
        limits(limits),
        open(registry ? &registry->AddGauge("pneumo_http_connections_open",
                                            "HTTP connections open, waiting or being served")
                      : nullptr) {
    for (std::size_t i = 0; i < kRefusalReasons.size(); ++i) {
      if (registry) {
        refused[i] =
            &registry->AddCounter("pneumo_http_connections_refused_total",
                                  "HTTP connections refused before any route ran, by reason",
                                  {{"reason", kRefusalReasons[i]}});
      }
    }
  }

  RequestProcessor& routes;
  const ConnectionLimits limits;
  OpenConnections open;
  std::array<metrics::Counter*, kRefusalReasons.size()> refused{};
  Fd listener;
  Fd wake;  // eventfd: a worker gave a connection back, or Stop() was called
  int port = 0;
  std::atomic<bool> stopping{false};
  std::thread poller;
  std::vector<std::thread> workers;

  std::mutex mu;
  std::condition_variable work;
  std::deque<std::unique_ptr<Connection>> ready;      // GUARDED_BY(mu): whole heads, for workers
  std::vector<std::unique_ptr<Connection>> returned;  // GUARDED_BY(mu): back from workers
  bool workers_stop = false;                          // GUARDED_BY(mu)

  void Count(Refusal refusal) {
    if (auto* counter = refused[static_cast<std::size_t>(refusal)]) counter->Increment();
  }
  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake.get(), &one, sizeof one);
  }

  void Refuse(Connection& c, Refusal refusal) {
    Count(refusal);  // before the client can see the answer
    SendNow(c.fd.get(), RefusalAnswer(refusal));
    Linger(c);
  }
  static void Linger(Connection& c) {
    ::shutdown(c.fd.get(), SHUT_WR);
    c.lingering = true;
    c.received.clear();
    c.deadline = Clock::now() + kLingerAfterRefusal;
  }

  // What the bytes received so far say: false when the connection left the poller's hands
  // (handed to a worker), true while it keeps waiting.
  bool Examine(std::unique_ptr<Connection>& c) {
    switch (c->head.Scan(c->received)) {
      case RequestHeadScanner::State::kIncomplete:
        return true;
      case RequestHeadScanner::State::kComplete: {
        DeclareEmptyBody(c->received, c->head.head_size());
        std::lock_guard lock(mu);
        ready.push_back(std::move(c));
        work.notify_one();
        return false;
      }
      case RequestHeadScanner::State::kTooLarge:
      case RequestHeadScanner::State::kTooManyFields:
        Refuse(*c, Refusal::kHeadTooLarge);
        return true;
    }
    return true;
  }

  // Reads what arrived on a waiting connection; false when it closed or left the poller's hands.
  bool ReadWaiting(std::unique_ptr<Connection>& c) {
    std::array<char, kReadChunk> chunk;
    const std::size_t room =
        c->lingering
            ? chunk.size()
            : std::clamp<std::size_t>(
                  limits.max_head_bytes + 1 - std::min(c->received.size(), limits.max_head_bytes),
                  1, chunk.size());
    const ssize_t n = ::recv(c->fd.get(), chunk.data(), room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;  // closed by the client, or broken
    if (c->lingering) return true;
    if (!c->head_started) {
      c->head_started = true;
      // A new connection keeps the deadline it got at accept; a kept-alive one now has a head
      // on its way, which gets the whole head timeout.
      if (c->requests > 0) c->deadline = Clock::now() + limits.head_timeout;
    }
    c->received.append(chunk.data(), static_cast<std::size_t>(n));
    return Examine(c);
  }

  // Deadline passed: false when the connection is to be closed now.
  bool Expire(Connection& c) {
    if (c.lingering || !c.head_started) return false;  // an idle connection closes silently
    Refuse(c, Refusal::kHeadTimeout);
    return true;
  }

  void Accept(std::vector<std::unique_ptr<Connection>>& waiting, Clock::time_point& paused_until) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          spdlog::warn("event=http_accept_failed reason=\"{}\"", std::strerror(errno));
          paused_until = Clock::now() + kAcceptPause;
        }
        return;  // EAGAIN: all accepted
      }
      auto c = std::make_unique<Connection>(Fd(fd), open, limits);
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      std::tie(c->peer_ip, c->peer_port) = NumericAddress(peer, peer_length);
      sockaddr_storage local{};
      socklen_t local_length = sizeof local;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
        std::tie(c->local_ip, c->local_port) = NumericAddress(local, local_length);
      }
      c->deadline = Clock::now() + limits.head_timeout;
      if (open.Add(0) > limits.max_connections) Refuse(*c, Refusal::kConnectionLimit);
      waiting.push_back(std::move(c));
    }
  }

  // A connection back from a worker: waits for its next request, or goes straight back when a
  // whole pipelined request is already here.
  bool Resume(std::unique_ptr<Connection>& c) {
    if (c->lingering) return true;
    c->head.Reset();
    c->head_started = !c->received.empty();
    c->deadline = Clock::now() + (c->head_started ? limits.head_timeout : limits.idle_timeout);
    return c->received.empty() || Examine(c);
  }

  void Poll() {
    std::vector<std::unique_ptr<Connection>> waiting;
    std::vector<pollfd> fds;
    Clock::time_point accept_paused_until;
    while (!stopping) {
      const auto now = Clock::now();
      const bool accepting = now >= accept_paused_until;
      fds.clear();
      fds.push_back({.fd = wake.get(), .events = POLLIN, .revents = 0});
      fds.push_back({.fd = accepting ? listener.get() : -1, .events = POLLIN, .revents = 0});
      Clock::time_point next = accepting ? now + std::chrono::hours(1) : accept_paused_until;
      for (const auto& c : waiting) {
        fds.push_back({.fd = c->fd.get(), .events = POLLIN, .revents = 0});
        next = std::min(next, c->deadline);
      }
      const auto timeout = std::chrono::ceil<milliseconds>(next - now).count();
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(timeout, 0))) < 0 &&
          errno != EINTR) {
        spdlog::error("event=http_poll_failed reason=\"{}\"", std::strerror(errno));
        std::this_thread::sleep_for(kAcceptPause);
        continue;
      }
      const auto after = Clock::now();
      for (std::size_t i = 0; i < waiting.size(); ++i) {
        auto& c = waiting[i];
        const short events = fds[i + 2].revents;
        // ReadWaiting may hand the connection to a worker, leaving `c` empty.
        const bool open = events == 0 || ReadWaiting(c);
        if (!open || (c && after >= c->deadline && !Expire(*c))) c.reset();
      }
      std::erase(waiting, nullptr);
      if (fds[0].revents != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n = ::read(wake.get(), &count, sizeof count);
        std::vector<std::unique_ptr<Connection>> back;
        {
          std::lock_guard lock(mu);
          back.swap(returned);
        }
        for (auto& c : back) {
          if (Resume(c)) waiting.push_back(std::move(c));
        }
      }
      if (fds[1].revents != 0) Accept(waiting, accept_paused_until);
    }
  }

  void Work() {
    for (;;) {
      std::unique_ptr<Connection> c;
      {
        std::unique_lock lock(mu);
        work.wait(lock, [&] { return workers_stop || !ready.empty(); });
        if (workers_stop) return;
        c = std::move(ready.front());
        ready.pop_front();
      }
      if (!Serve(*c)) continue;  // closed
      {
        std::lock_guard lock(mu);
        returned.push_back(std::move(c));
      }
      Wake();
    }
  }

  // One request on a connection whose head has arrived: false when the connection is to close.
  bool Serve(Connection& c) {
    ConnectionStream stream(c, limits, refused[static_cast<std::size_t>(Refusal::kBodyTooSlow)]);
    const bool last = ++c.requests >= limits.max_requests_per_connection || stopping;
    bool closed = false;
    bool ok = false;
    try {
      ok = routes.ProcessOne(stream, last, closed);
    } catch (const std::exception& e) {
      // httplib catches what handlers throw; this is httplib itself (e.g. out of memory).
      spdlog::error("event=http_request_failed reason=\"{}\"", e.what());
      return false;
    }
    if (stream.too_slow()) {
      stream.AnswerTooSlow();
      Linger(c);
      return true;
    }
    if (!ok || closed || last) return false;
    c.received = stream.TakeUnread();
    return true;
  }
};

Result<std::unique_ptr<ConnectionServer>> ConnectionServer::Start(RequestProcessor& routes,
                                                                  const std::string& host, int port,
                                                                  int workers,
                                                                  const ConnectionLimits& limits,
                                                                  metrics::Registry* registry) {
  const std::string where = host + ":" + std::to_string(port);
  if (workers < 1) return Fail(ErrorCode::kInvalidArgument, "--http-threads must be at least 1");
  if (limits.max_connections < workers) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "--http-max-connections must be at least --http-threads (" + std::to_string(workers) + ")");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    return Fail(ErrorCode::kUnavailable, "cannot listen on " + where + ": unknown host");
  }
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
  Fd listener;
  std::string why = "no address";
  for (const addrinfo* a = addresses.get(); a; a = a->ai_next) {
    Fd candidate(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (candidate.get() < 0) continue;
    ReuseAddressOnly(candidate.get());
    if (::bind(candidate.get(), a->ai_addr, a->ai_addrlen) == 0 &&
        ::listen(candidate.get(), SOMAXCONN) == 0) {
      listener = std::move(candidate);
      break;
    }
    why = std::strerror(errno);
  }
  if (listener.get() < 0) {
    return Fail(ErrorCode::kUnavailable, "cannot listen on " + where + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length);

  auto state = std::make_unique<State>(routes, limits, registry);
  state->port = NumericAddress(bound, bound_length).second;
  state->listener = std::move(listener);
  state->wake = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (state->wake.get() < 0) {
    return Fail(
        ErrorCode::kUnavailable,
        std::string("cannot create the HTTP server's wake-up event: ") + std::strerror(errno));
  }
  State* s = state.get();
  s->workers.reserve(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i) s->workers.emplace_back([s] { s->Work(); });
  s->poller = std::thread([s] { s->Poll(); });
  return std::unique_ptr<ConnectionServer>(new ConnectionServer(std::move(state)));
}

ConnectionServer::ConnectionServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

ConnectionServer::~ConnectionServer() { Stop(); }

int ConnectionServer::port() const { return state_->port; }

void ConnectionServer::Stop() {
  State& s = *state_;
  if (!s.poller.joinable()) return;
  s.stopping = true;
  s.Wake();
  s.poller.join();  // closes the connections that were waiting
  s.listener.Reset();
  {
    std::lock_guard lock(s.mu);
    s.workers_stop = true;
  }
  s.work.notify_all();
  for (std::thread& worker : s.workers) worker.join();
  s.workers.clear();
  std::lock_guard lock(s.mu);
  s.ready.clear();
  s.returned.clear();
}

}  // namespace pneumo::http

// ConnectionServer over real loopback sockets: the limits httplib alone did not have (slow and
// idle clients holding threads, header count and size, connection count, slow bodies).
#include "http/connection_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.h"

namespace pneumo::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking loopback client with a receive timeout, so that no test can hang.
class Client {
 public:
  explicit Client(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until `count` whole responses (by Content-Length) have arrived, the peer closes, or
  // `timeout` passes. What arrived, in order.
  std::string ReadResponses(int count, std::chrono::milliseconds timeout = 5s) {
    const auto until = Clock::now() + timeout;
    while (Responses(buffer_) < count && Clock::now() < until) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) break;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return buffer_;
  }
  // True when the server closed the connection within `timeout` (after any answer).
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    ReadResponses(1 << 20, timeout);
    return closed_;
  }

 private:
  static int Responses(const std::string& text) {
    int complete = 0;
    std::size_t at = 0;
    for (;;) {
      const std::size_t end = text.find("\r\n\r\n", at);
      if (end == std::string::npos) return complete;
      std::size_t length = 0;
      const std::size_t field = text.find("Content-Length: ", at);
      if (field != std::string::npos && field < end) length = std::stoul(text.substr(field + 16));
      if (text.size() < end + 4 + length) return complete;
      ++complete;
      at = end + 4 + length;
    }
  }
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
};

int CountOf(const std::string& text, std::string_view what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ConnectionServerTest : public ::testing::Test {
 protected:
  void StartServer(int workers, ConnectionLimits limits) {
    routes_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
    routes_.Post("/echo", [](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader) {
      std::size_t size = 0;
      const bool read = reader([&](const char*, std::size_t n) {
        size += n;
        return true;
      });
      res.status = read ? 200 : 400;
      res.set_content(std::to_string(size), "text/plain");
    });
    routes_.Get("/who", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.remote_addr, "text/plain");
    });
    auto server = ConnectionServer::Start(routes_, "127.0.0.1", 0, workers, limits, &registry_);
    ASSERT_TRUE(server.has_value()) << server.error().message;
    server_ = std::move(*server);
  }
  double Refused(const std::string& reason) {
    return registry_
        .AddCounter("pneumo_http_connections_refused_total",
                    "HTTP connections refused before any route ran, by reason",
                    {{"reason", reason}})
        .Value();
  }
  int port() const { return server_->port(); }

  metrics::Registry registry_;
  RequestProcessor routes_;
  std::unique_ptr<ConnectionServer> server_;
};

constexpr std::string_view kHello = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

TEST_F(ConnectionServerTest, KeepsConnectionsAliveAndAnswersPipelinedRequestsInOrder) {
  StartServer(2, {});
  Client client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(kHello));
  EXPECT_EQ(CountOf(client.ReadResponses(1), "HTTP/1.1 200 OK"), 1);
  // Three requests in one write: the second and third arrive with the first.
  ASSERT_TRUE(
      client.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
                  "GET /who HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string answers = client.ReadResponses(4);
  EXPECT_EQ(CountOf(answers, "HTTP/1.1 200 OK"), 4) << answers;
  EXPECT_LT(answers.rfind("\r\n\r\nhi"), answers.find("\r\n\r\n5"));
  EXPECT_NE(answers.find("\r\n\r\n127.0.0.1"), std::string::npos) << "remote_addr reached httplib";
  EXPECT_FALSE(client.ClosedWithin(200ms)) << "a kept-alive connection stays open";
}

TEST_F(ConnectionServerTest, AHeadTricklingInHoldsNoWorkerAndTimesOutWith408) {
  ConnectionLimits limits;
  limits.head_timeout = 3s;
  StartServer(/*workers=*/1, limits);
  Client slow(port());
  ASSERT_TRUE(slow.Send("GET /hello HTTP/1.1\r\nHo"));
  std::this_thread::sleep_for(100ms);
  // The only worker is free: another client is answered while the slow head is still open
  // (well before its timeout, with room for a slow sanitized build).
  Client other(port());
  const auto asked = Clock::now();
  ASSERT_TRUE(other.Send(kHello));
  EXPECT_EQ(CountOf(other.ReadResponses(1), "200 OK"), 1);
  EXPECT_LT(Clock::now() - asked, 2s);

  ASSERT_TRUE(slow.Send("st"));  // still trickling: the deadline counts from the first byte
  const std::string answer = slow.ReadResponses(1, 6s);
  EXPECT_NE(answer.find("HTTP/1.1 408 Request Timeout"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"code\":\"request_timeout\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(slow.ClosedWithin(3s));
  EXPECT_EQ(Refused("head_timeout"), 1);
}

TEST_F(ConnectionServerTest, IdleConnectionsHoldNoWorkerAndCloseSilently) {
  ConnectionLimits limits;
  limits.head_timeout = 600ms;
  limits.idle_timeout = 300ms;
  StartServer(/*workers=*/1, limits);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<Client>(port()));
  // A kept-alive one too, after its first request.
  Client kept(port());
  ASSERT_TRUE(kept.Send(kHello));
  EXPECT_EQ(CountOf(kept.ReadResponses(1), "200 OK"), 1);

  Client served(port());
  ASSERT_TRUE(served.Send(kHello));
  EXPECT_EQ(CountOf(served.ReadResponses(1, 2s), "200 OK"), 1);
  // Nothing was sent on the idle ones: they are closed without an answer.
  EXPECT_TRUE(idle.front()->ClosedWithin(2s));
  EXPECT_EQ(idle.front()->ReadResponses(1, 0ms), "");
  EXPECT_TRUE(kept.ClosedWithin(2s));
  EXPECT_EQ(Refused("head_timeout"), 0);
}

TEST_F(ConnectionServerTest, RefusesTooManyHeaderFieldsAndTooLargeHeadsWith431) {
  StartServer(1, {});
  std::string many = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-Field-" + std::to_string(i) + ": v\r\n";
  Client fields(port());
  ASSERT_TRUE(fields.Send(many + "\r\n"));
  const std::string answer = fields.ReadResponses(1);
  EXPECT_NE(answer.find("HTTP/1.1 431 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"code\":\"header_too_large\""), std::string::npos) << answer;

  std::string large = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 10; ++i)
    large += "X-Big-" + std::to_string(i) + ": " + std::string(8000, 'a') + "\r\n";
  Client bytes(port());
  ASSERT_TRUE(bytes.Send(large + "\r\n"));
  EXPECT_NE(bytes.ReadResponses(1).find("HTTP/1.1 431 "), std::string::npos);
  EXPECT_TRUE(bytes.ClosedWithin(3s));
  EXPECT_EQ(Refused("head_too_large"), 2);

  // Exactly 100 fields are fine.
  std::string hundred = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) hundred += "X-Field-" + std::to_string(i) + ": v\r\n";
  Client fine(port());
  ASSERT_TRUE(fine.Send(hundred + "\r\n"));
  EXPECT_EQ(CountOf(fine.ReadResponses(1), "HTTP/1.1 200 OK"), 1);
}

TEST_F(ConnectionServerTest, RefusesConnectionsOverTheLimitWith503) {
  ConnectionLimits limits;
  limits.max_connections = 2;
  StartServer(/*workers=*/1, limits);
  Client first(port()), second(port());
  ASSERT_TRUE(first.Send(kHello));
  EXPECT_EQ(CountOf(first.ReadResponses(1), "200 OK"), 1);
  Client third(port());
  const std::string answer = third.ReadResponses(1);
  EXPECT_NE(answer.find("HTTP/1.1 503 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"code\":\"too_many_connections\""), std::string::npos);
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(Refused("connection_limit"), 1);
  EXPECT_GE(registry_
                .AddGauge("pneumo_http_connections_open",
                          "HTTP connections open, waiting or being served")
                .Value(),
            2);
}

TEST_F(ConnectionServerTest, ABodyTooSlowIsCutOffWith408) {
  ConnectionLimits limits;
  limits.body_grace = 300ms;
  limits.min_body_rate = 1000;  // bytes per second
  StartServer(/*workers=*/1, limits);
  Client slow(port());
  ASSERT_TRUE(slow.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
  const auto started = Clock::now();
  std::string answer;
  for (int i = 0; i < 40 && answer.empty(); ++i) {
    slow.Send(std::string(10, 'x'));  // 100 bytes per second
    answer = slow.ReadResponses(1, 100ms);
  }
  EXPECT_NE(answer.find("HTTP/1.1 408 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("arrived too slowly"), std::string::npos) << answer;
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_EQ(Refused("body_too_slow"), 1);
  // The worker is free again.
  Client next(port());
  ASSERT_TRUE(next.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  EXPECT_NE(next.ReadResponses(1).find("\r\n\r\n3"), std::string::npos);
}

TEST_F(ConnectionServerTest, ABodyAtAGoodPaceIsRead) {
  ConnectionLimits limits;
  limits.body_grace = 200ms;
  limits.min_body_rate = 1000;
  StartServer(1, limits);
  Client client(port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6000\r\n\r\n"));
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(100ms);  // 10 KB/s
    ASSERT_TRUE(client.Send(std::string(1000, 'y')));
  }
  EXPECT_NE(client.ReadResponses(1).find("\r\n\r\n6000"), std::string::npos);
}

TEST_F(ConnectionServerTest, APostWithoutALengthHasAnEmptyBody) {
  StartServer(1, {});
  Client client(port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto asked = Clock::now();
  EXPECT_NE(client.ReadResponses(1).find("\r\n\r\n0"), std::string::npos);
  EXPECT_LT(Clock::now() - asked, 2s);
}

TEST_F(ConnectionServerTest, StopsPromptlyWithConnectionsWaiting) {
  StartServer(2, {});
  Client idle(port()), half(port());
  ASSERT_TRUE(half.Send("GET /hel"));
  std::this_thread::sleep_for(50ms);
  const auto asked = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - asked, 2s);
  EXPECT_TRUE(idle.ClosedWithin(1s));
  EXPECT_TRUE(half.ClosedWithin(1s));
  server_->Stop();  // idempotent
}

TEST(ConnectionServer, APortInUseIsAClearError) {
  metrics::Registry registry;
  RequestProcessor routes;
  auto first = ConnectionServer::Start(routes, "127.0.0.1", 0, 1, {}, &registry);
  ASSERT_TRUE(first.has_value());
  auto second = ConnectionServer::Start(routes, "127.0.0.1", (*first)->port(), 1, {}, &registry);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos);
  ConnectionLimits few;
  few.max_connections = 1;
  auto bad = ConnectionServer::Start(routes, "127.0.0.1", 0, 4, few, &registry);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pneumo::http

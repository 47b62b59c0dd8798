#include "metrics/exporter.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/socket_options.h"

namespace pneumo::metrics {

struct Exporter::State {
  httplib::Server server;
  std::thread thread;                 // runs server.listen_after_bind() until server.stop()
  std::atomic<bool> finished{false};  // set by `thread` when listening has ended
  int port = 0;                       // immutable after Start
};

namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

Result<std::unique_ptr<Exporter>> Exporter::Start(const Registry& registry, const std::string& host,
                                                  int port) {
  const std::string where = host + ":" + std::to_string(port);
  if (port < 0 || port > 65535) {
    return Fail(ErrorCode::kInvalidArgument, "metrics exporter port out of range: " + where);
  }
  auto state = std::make_unique<State>();
  httplib::Server& server = state->server;
  server.set_socket_options(pneumo::ReuseAddressOnly);
  // Prometheus scrapes every few seconds from one client: two workers are plenty, and a short
  // keep-alive keeps the destructor from waiting on an idle connection for long.
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_keep_alive_timeout(1);
  server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Render(), kContentType);
  });
  // Unknown paths already get 404 from httplib; give them a body that says where to look.
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404)
      res.set_content("not found; metrics are served on /metrics\n", "text/plain");
  });

  if (port == 0) {
    state->port = server.bind_to_any_port(host);
    if (state->port < 0) {
      return Fail(ErrorCode::kUnavailable,
                  "metrics exporter cannot bind " + where + " (no free port, or bad host)");
    }
  } else {
    if (!server.bind_to_port(host, port)) {
      return Fail(ErrorCode::kUnavailable, "metrics exporter cannot bind " + where +
                                               " (port in use, no permission, or bad host)");
    }
    state->port = port;
  }

  State* s = state.get();
  s->thread = std::thread([s] {
    s->server.listen_after_bind();
    s->finished = true;
  });
  // httplib's stop() does nothing until the listening loop has marked itself running; wait for
  // that so that a destructor running right after Start cannot miss the stop and join forever.
  while (!s->server.is_running() && !s->finished) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<Exporter>(new Exporter(std::move(state)));
}

Exporter::Exporter(std::unique_ptr<State> state) : state_(std::move(state)) {}

Exporter::~Exporter() {
  state_->server.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

int Exporter::port() const { return state_->port; }

}  // namespace pneumo::metrics

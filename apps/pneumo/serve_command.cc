#include <malloc.h>
#include <signal.h>

#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/core/utility.hpp>
#include <stop_token>
#include <thread>

#include "apps/pneumo/commands.h"
#include "apps/pneumo/config_file.h"
#include "apps/pneumo/serve_dicom.h"
#include "auth/account_service.h"
#include "core/logging.h"
#include "http/http_server.h"
#include "serving/prediction_service.h"
#include "store/redis_store.h"
#include "store/result_store.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

// The flags' defaults are the libraries' own (one source of truth), except where noted.
const infer::BatcherOptions kBatching;
const serving::ServiceOptions kService;
const http::HttpOptions kHttp;

struct ServeArgs {
  std::string listen = kHttp.host + ":8080";  // the library picks no port of its own
  std::string store;                          // default: sqlite in data_dir
  fs::path data_dir = "pneumo-data";
  fs::path model = DefaultModelPath();
  fs::path web_root;
  int max_batch = kBatching.max_batch_size;
  double max_wait_ms = static_cast<double>(kBatching.max_wait.count()) / 1000.0;
  int max_queue = static_cast<int>(kBatching.max_queue);
  int request_timeout_ms = static_cast<int>(kService.request_timeout.count());
  double max_upload_mb = static_cast<double>(kHttp.max_upload_bytes) / (1024.0 * 1024.0);
  int threads = 1;  // see --threads: the server's choice, not a library default
  int http_threads = kHttp.threads;
  int http_max_connections = kHttp.connections.max_connections;
  int http_nice = kHttp.worker_nice;
  double review_band = kService.review.band;
  int model_poll_ms = 2000;        // 0: reload only on SIGHUP
  std::string store_password;      // joined into a redis:// --store that has none
  fs::path store_password_file;    // the same, read from a file (kept off the command line)
  std::string log_level = "info";  // also pneumo's own --log-level, before the subcommand
  fs::path config;                 // --config; empty: kDefaultConfig when it exists
  bool print_config = false;
  // Accounts (docs/security-api.md): on unless --no-accounts, which opens every route to anyone
  // who can reach the server (a warning at start-up says so).
  bool accounts = true;
  std::string metrics_networks = "127.0.0.0/8,::1/128";
  std::string legacy_clients;  // none
  std::string trusted_proxies = "127.0.0.0/8,::1/128";
  bool insecure_store = false;  // accept a Redis that answers without a password
  DicomArgs dicom;              // --dicom-* (apps/pneumo/serve_dicom.h)
};

// Read when --config is not given and the file exists: where the Debian package puts it.
const fs::path kDefaultConfig = "/etc/pneumo/pneumo.conf";

// A Redis that answers without a password holds every prediction, account and audit entry open
// to anyone who reaches it: refused unless --insecure-store says the risk is accepted.
Result<void> RefuseOpenRedis(const std::string& store_url, bool insecure_store) {
  auto url = store::ParseStoreUrl(store_url);
  if (!url || url->kind != store::StoreUrl::Kind::kRedis) return {};
  auto open = store::RedisAnswersWithoutPassword(url->host, url->port);
  if (!open) return {};  // unreachable: OpenStore says so in its own words
  if (!*open) return {};
  const std::string where = url->host + ":" + std::to_string(url->port);
  if (insecure_store) {
    spdlog::warn(
        "event=store_without_password store={} risk=\"--insecure-store: this Redis "
        "answers anyone who reaches it\"",
        where);
    return {};
  }
  return Fail(ErrorCode::kInvalidArgument,
              "the Redis at " + where +
                  " answers commands without a password, so anyone who reaches it can read "
                  "every prediction: set requirepass in its redis.conf and give pneumo the "
                  "password (--store-password-file), or pass --insecure-store to accept the risk");
}

// What identifies the model on disk: where the path leads (a published model is a symlink
// swapped atomically) and its card's size and time.
struct ModelStamp {
  fs::path resolved;
  fs::file_time_type card_time{};
  std::uintmax_t card_size = 0;
  bool operator==(const ModelStamp&) const = default;
};

ModelStamp StampOf(const fs::path& model) {
  std::error_code ec;
  ModelStamp stamp;
  stamp.resolved = fs::canonical(model::ModelDirectory(model), ec);
  const fs::path card = stamp.resolved / model::kCardFile;
  stamp.card_time = fs::last_write_time(card, ec);
  stamp.card_size = fs::file_size(card, ec);
  return stamp;
}

// Loads, checks and self-tests the model at args.model and swaps it in; on any failure the
// serving model stays. Serialised: the watcher and SIGHUP may ask at the same time.
class ModelReloader {
 public:
  // `accounts`, when on, gets a model.reload audit entry for every reload tried.
  ModelReloader(serving::PredictionService& service, const ServeArgs& args,
                auth::AccountService* accounts)
      : service_(service), args_(args), accounts_(accounts), stamp_(StampOf(args.model)) {}

  void Reload(const char* why) {
    std::lock_guard lock(mu_);
    stamp_ = StampOf(args_.model);
    const std::string was = service_.card().version;
    Result<void> ready = [&]() -> Result<void> {
      auto predictor = model::Predictor::Load(args_.model, args_.threads);
      if (!predictor) return std::unexpected(predictor.error());
      auto explainer = model::Predictor::Load(args_.model, 1);
      if (!explainer) return std::unexpected(explainer.error());
      if (auto tested = serving::SelfTest(**predictor); !tested) return tested;
      return service_.ReplaceModel(std::move(*predictor), std::move(*explainer));
    }();
    if (!ready) {
      spdlog::error("event=model_reload_refused trigger={} serving_version={} error=\"{}\"", why,
                    was, ready.error().ToString());
      Audit(was + " kept (" + why + ")", "refused");
      return;
    }
    spdlog::info("event=model_reloaded trigger={} from_version={} to_version={}", why, was,
                 service_.card().version);
    Audit(was + " -> " + service_.card().version + " (" + why + ")", "success");
  }

  // The model change in the audit trail, as the server itself did it (no user asked).
  void Audit(const std::string& target, std::string_view outcome) {
    if (accounts_ == nullptr) return;
    const auth::Principal server{.user = "server", .role = auth::Role::kAdmin};
    if (auto recorded = accounts_->Record(&server, "model.reload", target,
                                          {.client_address = "local", .request_id = ""}, outcome);
        !recorded) {
      spdlog::error("event=audit_failed action=model.reload error=\"{}\"",
                    recorded.error().message);
    }
  }

  // Reloads when the directory changed since the last look.
  void Poll() {
    ModelStamp now = StampOf(args_.model);
    {
      std::lock_guard lock(mu_);
      if (now == stamp_) return;
    }
    Reload("model_directory_changed");
  }

 private:
  serving::PredictionService& service_;
  const ServeArgs& args_;
  auth::AccountService* accounts_;  // null with --no-accounts
  std::mutex mu_;
  ModelStamp stamp_;  // GUARDED_BY(mu_)
};

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "--listen must be HOST:PORT, e.g. 127.0.0.1:8080, not '" + listen + "'");
  }
  try {
    std::size_t used = 0;
    const int port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port < 0 || port > 65535)
      throw std::out_of_range("port");
    return std::pair{listen.substr(0, colon), port};
  } catch (const std::exception&) {
    return Fail(ErrorCode::kInvalidArgument, "--listen port must be 0..65535 in '" + listen + "'");
  }
}

int Serve(const ServeArgs& args) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "pneumo serve: %s\n", message.c_str());
    return 2;
  };
  auto address = ParseListen(args.listen);
  if (!address) return fail(address.error().message);
  if (args.max_batch < 1 || args.max_queue < 1 || args.max_wait_ms < 0 ||
      args.request_timeout_ms < 1 || args.max_upload_mb <= 0 || args.review_band < 0 ||
      args.review_band > 0.5) {
    return fail(
        "--max-batch, --max-queue and --request-timeout-ms must be >= 1, --max-wait-ms >= 0, "
        "--max-upload-mb > 0 and --review-band in [0, 0.5]");
  }
  auto with_password =
      StoreUrlWithPassword(args.store, args.store_password, args.store_password_file);
  if (!with_password) return fail(with_password.error().message);
  std::string store_url = *with_password;
  if (store_url.empty()) {
    std::error_code ec;
    fs::create_directories(args.data_dir, ec);
    if (ec)
      return fail("cannot create data directory " + args.data_dir.string() + ": " + ec.message());
    store_url = "sqlite:" + (args.data_dir / "results.db").string();
  }
  // Requests are the unit of parallelism: OpenCV's own thread pool would only compete with them.
  cv::setNumThreads(1);
  // Memory: with dozens of HTTP threads glibc would keep up to 8 arenas per core; two bound the
  // heap. Within them, freed activation tensors stay mapped for the next batch: with glibc's
  // defaults every batch of 4+ images mapped fresh pages, and the model thread spent as much time
  // in page faults as in the forward pass (465 vs 740 ticks system vs user, 32 clients; 15 vs 488
  // with these settings).
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  auto predictor = model::Predictor::Load(args.model, args.threads);
  if (!predictor) return fail(predictor.error().ToString());
  auto explainer = model::Predictor::Load(args.model, 1);
  if (!explainer) return fail(explainer.error().ToString());
  if (auto refused = RefuseOpenRedis(store_url, args.insecure_store); !refused)
    return fail(refused.error().message);
  auto store = store::OpenStore(store_url);
  if (!store) return fail(store.error().ToString());
  const std::string store_name = (*store)->Describe();

  serving::ServiceOptions options;
  options.batching.max_batch_size = args.max_batch;
  options.batching.max_wait = std::chrono::microseconds(static_cast<long>(args.max_wait_ms * 1000));
  options.batching.max_queue = static_cast<std::size_t>(args.max_queue);
  options.request_timeout = std::chrono::milliseconds(args.request_timeout_ms);
  options.review.band = args.review_band;
  metrics::Registry registry;
  auto service = serving::PredictionService::Create(std::move(*predictor), std::move(*explainer),
                                                    std::move(*store), options, registry);
  if (!service) return fail(service.error().ToString());

  // Block the stop signals in every thread from here on, and wait for them in this one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload the model
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  http::HttpOptions http_options{
      .host = address->first,
      .port = address->second,
      .max_upload_bytes = static_cast<std::size_t>(args.max_upload_mb * 1024 * 1024),
      .threads = args.http_threads,
      .connections = {.max_connections = args.http_max_connections},
      .web_root = args.web_root,
      .worker_nice = args.http_nice};
  // The accounts and the audit trail live in the same store as the predictions.
  std::unique_ptr<store::AccountStore> account_store;
  std::unique_ptr<store::AuditStore> audit_store;
  std::unique_ptr<auth::AccountService> accounts;
  if (!args.accounts) {
    spdlog::warn(
        "event=accounts_off risk=\"--no-accounts: every route, every prediction and every image "
        "is open to anyone who reaches this server, and nothing is audited by user\"");
  } else {
    auto metrics_networks = http::NetworkList::Parse(args.metrics_networks);
    if (!metrics_networks) return fail("--metrics-networks: " + metrics_networks.error().message);
    auto legacy_networks = http::NetworkList::Parse(args.legacy_clients);
    if (!legacy_networks) return fail("--legacy-clients: " + legacy_networks.error().message);
    auto trusted_proxies = http::NetworkList::Parse(args.trusted_proxies);
    if (!trusted_proxies) return fail("--trusted-proxies: " + trusted_proxies.error().message);
    auto opened_accounts = store::OpenAccountStore(store_url);
    if (!opened_accounts) return fail(opened_accounts.error().ToString());
    auto opened_audit = store::OpenAuditStore(store_url);
    if (!opened_audit) return fail(opened_audit.error().ToString());
    account_store = std::move(*opened_accounts);
    audit_store = std::move(*opened_audit);
    accounts = std::make_unique<auth::AccountService>(*account_store, *audit_store,
                                                      auth::AccountOptions{});
    http_options.accounts = accounts.get();
    http_options.audit = audit_store.get();
    http_options.access = {.metrics_networks = std::move(*metrics_networks),
                           .legacy_networks = std::move(*legacy_networks),
                           .trusted_proxies = std::move(*trusted_proxies)};
    if (!http_options.access.legacy_networks.empty()) {
      spdlog::warn(
          "event=legacy_clients_open networks={} risk=\"the original's routes answer "
          "these networks without credentials, unaudited by user\"",
          http_options.access.legacy_networks.ToString());
    }
  }
  auto dicom = StartDicom(args.dicom, **service, registry, args.data_dir);
  if (!dicom) return fail(dicom.error().ToString());
  auto server = http::HttpServer::Start(**service, registry, http_options, (*dicom)->node.get());
  if (!server) return fail(server.error().ToString());
  const auto& card = (*service)->card();
  std::printf("pneumo serve: http://%s:%d/ (model %s %s, store %s)\n", address->first.c_str(),
              (*server)->port(), card.name.c_str(), card.version.c_str(), store_name.c_str());
  std::fflush(stdout);
  spdlog::info(
      "event=serve_start host={} port={} max_batch={} max_wait_ms={} max_queue={} store={}",
      address->first, (*server)->port(), args.max_batch, args.max_wait_ms, args.max_queue,
      store_name);
  ModelReloader reloader(**service, args, accounts.get());
  std::jthread watcher;
  if (args.model_poll_ms > 0) {
    watcher = std::jthread(
        [&reloader, period = std::chrono::milliseconds(args.model_poll_ms)](std::stop_token stop) {
          std::mutex mu;
          std::condition_variable_any cv;
          std::unique_lock lock(mu);
          // wait_for returns early, true, once a stop is requested; otherwise after `period`.
          while (!cv.wait_for(lock, stop, period, [&stop] { return stop.stop_requested(); }))
            reloader.Poll();
        });
  }
  int signal_number = 0;
  while (true) {
    sigwait(&stop_signals, &signal_number);
    if (signal_number != SIGHUP) break;
    reloader.Reload("SIGHUP");
  }
  spdlog::info("event=serve_stop signal={}", signal_number);
  if (watcher.joinable()) {
    watcher.request_stop();
    watcher.join();
  }
  (*server)->Stop();
  dicom->reset();  // no new instances; the send in flight finishes
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the HTTP API and web UI");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--store", args->store,
                  "Result store: sqlite:PATH or redis://[:password@]host[:port][/db] (default: "
                  "sqlite in --data-dir)");
  cmd->add_option("--store-password-file", args->store_password_file,
                  "File whose first line is the Redis password, joined into a redis:// --store "
                  "(keeps it out of ps and the config file)");
  cmd->add_option("--store-password", args->store_password,
                  "The Redis password, joined into a redis:// --store (prefer the file, or "
                  "PNEUMO_STORE_PASSWORD: ps shows the command line)");
  cmd->add_option("--data-dir", args->data_dir, "Where the default SQLite store lives")
      ->capture_default_str();
  cmd->add_option("--model", args->model, "Model directory (default: the shipped model)")
      ->capture_default_str();
  cmd->add_option("--max-batch", args->max_batch, "Most images per forward pass")
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", args->max_wait_ms,
                  "Longest a request waits for others to batch with")
      ->capture_default_str();
  cmd->add_option("--max-queue", args->max_queue,
                  "Requests waiting beyond which uploads get 503 busy")
      ->capture_default_str();
  cmd->add_option("--request-timeout-ms", args->request_timeout_ms,
                  "Per-request limit; then 503 timeout")
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", args->max_upload_mb,
                  "Largest upload accepted; larger gets 413")
      ->capture_default_str();
  // One thread by default: a multi-threaded forward pass synchronises at every layer, so any
  // decoder (or other process) holding one core stalls the whole batch; measured 3-4x fewer
  // requests/s with 2 threads than with 1 on this 2-core machine (bench/README.md).
  cmd->add_option("--threads", args->threads, "Threads for the model's forward pass (0: all cores)")
      ->capture_default_str();
  cmd->add_option("--http-threads", args->http_threads,
                  "Requests processed at once (idle and slow connections hold none)")
      ->capture_default_str();
  cmd->add_option("--http-max-connections", args->http_max_connections,
                  "Connections open at once; more are answered 503 and closed")
      ->capture_default_str();
  cmd->add_option(
         "--http-nice", args->http_nice,
         "Nice value of the HTTP (decoding) threads, so the model's threads keep their cores")
      ->capture_default_str();
  cmd->add_option("--review-band", args->review_band,
                  "Flag for review when the probability is this close to the threshold")
      ->capture_default_str();
  cmd->add_option("--web-root", args->web_root,
                  "Serve the web UI from this folder instead of the built-in copy");
  cmd->add_option("--model-poll-ms", args->model_poll_ms,
                  "How often to look for a newly published model in --model (0: only on SIGHUP)")
      ->capture_default_str();
  cmd->add_flag("--accounts,!--no-accounts", args->accounts,
                "Require a session or an API token on every route but health and the login page; "
                "doctors see only their own predictions; views are audited (docs/security-api.md). "
                "--no-accounts opens every route to anyone who reaches the server");
  cmd->add_option("--metrics-networks", args->metrics_networks,
                  "With --accounts: networks that may read /metrics without a token (CIDR,...)")
      ->capture_default_str();
  cmd->add_option("--legacy-clients", args->legacy_clients,
                  "With --accounts: networks whose clients may use POST /predict, GET /predictions "
                  "and GET /health without credentials, as the original allowed (a risk: anyone "
                  "there sees every prediction); default none");
  cmd->add_option("--trusted-proxies", args->trusted_proxies,
                  "Proxies (CIDR,...) whose X-Real-IP and X-Forwarded-Proto are believed, so that "
                  "rate limits, the audit trail and the network rules see the client's address")
      ->capture_default_str();
  cmd->add_flag("--insecure-store", args->insecure_store,
                "Accept a Redis that answers without a password (refused otherwise: anyone who "
                "reaches it reads every prediction)");
  AddDicomOptions(*cmd, args->dicom);
  // The program's --log-level, repeated here so that the config file can set it too.
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  // Not settings themselves: where the settings come from, and whether to only show them.
  cmd->add_option("--config", args->config,
                  "Config file: every flag has a key, --max-batch is max_batch (default: " +
                      kDefaultConfig.string() + " when it exists)");
  cmd->add_flag("--print-config", args->print_config,
                "Print the merged settings (environment PNEUMO_* > flags > file > defaults), "
                "passwords masked, and exit");
  // Every option shows its default in --print-config; keys come from the option names.
  for (CLI::Option* option : cmd->get_options()) option->capture_default_str();
  // A flag's default is not captured from its variable; accounts is the one flag that is on.
  cmd->get_option("--accounts")->default_str("true");
  cmd->callback([cmd, args, &exit_code] {
    ConfigRequest request{.section = "serve", .skip = {"help", "config", "print_config"}};
    const char* env_config = std::getenv("PNEUMO_CONFIG");
    if (!args->config.empty()) {
      request.file = args->config;
      request.required = true;
    } else if (env_config && *env_config) {
      request.file = env_config;
      request.required = true;
    } else {
      request.file = kDefaultConfig;
    }
    auto origins = ApplyConfig(*cmd, request);
    if (!origins) {
      std::fprintf(stderr, "pneumo serve: %s\n", origins.error().message.c_str());
      exit_code = 2;
      return;
    }
    if (origins->at("log_level") != "default")
      spdlog::set_level(spdlog::level::from_str(args->log_level));
    std::error_code ec;
    if (!fs::exists(request.file, ec)) request.file.clear();
    if (args->print_config) {
      std::fputs(FormatConfig(*cmd, request, *origins).c_str(), stdout);
      exit_code = 0;
      return;
    }
    for (const auto& [key, origin] : *origins)
      if (origin.ends_with(kOverCommandLine))
        spdlog::warn("event=config_env_overrides_flag key={} source={}", key, origin);
    exit_code = Serve(*args);
  });
}

}  // namespace pneumo::app

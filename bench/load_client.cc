// A closed-loop HTTP load generator for image uploads: N client threads, each with one keep-alive
// connection, post multipart uploads back to back, cycling through a set of images, and the
// program prints one JSON object with throughput, latency percentiles and errors by status.
//
//   load_client --url http://127.0.0.1:8080/api/v1/predictions --clients 32 --duration 30
//               --warmup 5 --images /tmp/xrays
//   load_client --make-images 16 --size 2000 --out /tmp/xrays
//               --from ../shared/data/chest_xray/train
//
// bench/run_server_bench.sh drives it against pneumo serve and the Flask reference. wrk would do
// the closed loop too, but multipart uploads of real images need a Lua script per image set, and
// this also counts errors by status and checks each answer carries a probability.
#include <httplib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kBoundary[] = "pneumo-load-client-5b2f0c1e9a7d";

struct Url {
  std::string host;
  int port = 80;
  std::string path = "/";
};

std::optional<Url> ParseUrl(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) return std::nullopt;  // https is not needed on loopback
  std::string rest = text.substr(kScheme.size());
  Url url;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    url.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.rfind(':');
  url.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      url.port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (url.host.empty()) return std::nullopt;
  return url;
}

bool IsImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpeg" || ext == ".jpg" || ext == ".png";
}

// Files as given, folders searched recursively for .jpeg/.jpg/.png; sorted within each folder so
// that runs are repeatable.
std::vector<fs::path> ListImages(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    if (fs::is_directory(input)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(input))
        if (entry.is_regular_file() && IsImageFile(entry.path())) found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.emplace_back(input);
    }
  }
  return files;
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The whole multipart body, built once per image so that the client spends its CPU on sending,
// not on copying: the server under test shares the machine.
std::string MultipartBody(const std::string& field, const fs::path& file,
                          const std::string& bytes) {
  const std::string type = file.extension() == ".png" ? "image/png" : "image/jpeg";
  std::string body;
  body.reserve(bytes.size() + 256);
  body += "--" + std::string(kBoundary) + "\r\n";
  body += "Content-Disposition: form-data; name=\"" + field + "\"; filename=\"" +
          file.filename().string() + "\"\r\n";
  body += "Content-Type: " + type + "\r\n\r\n";
  body += bytes;
  body += "\r\n--" + std::string(kBoundary) + "--\r\n";
  return body;
}

// What one client thread saw inside the measurement window.
struct ClientStats {
  std::vector<double> latencies_ms;    // successful requests only
  std::map<std::string, long> errors;  // HTTP status, "bad_body" or the transport error
  long requests = 0;                   // every answer or failure that completed in the window
  long late = 0;           // requests that completed after the window (started before its end)
  double late_max_ms = 0;  // the longest of those: a starved connection shows up here
};

struct LoadOptions {
  Url url;
  std::vector<std::string> bodies;  // prebuilt multipart bodies
  int clients = 1;
  double warmup_s = 5;
  double duration_s = 30;
  int timeout_s = 120;
  bool check_body = true;  // a 2xx answer must contain "probability"
  std::string token;       // sent as Authorization: Bearer when set (pneumo's accounts)
};

void RunClient(const LoadOptions& options, int index, Clock::time_point window_start,
               Clock::time_point window_end, ClientStats& stats) {
  httplib::Client client(options.url.host, options.url.port);
  client.set_keep_alive(true);
  client.set_connection_timeout(10);
  client.set_read_timeout(options.timeout_s);
  client.set_write_timeout(options.timeout_s);
  if (!options.token.empty()) client.set_bearer_token_auth(options.token);
  const std::string content_type = std::string("multipart/form-data; boundary=") + kBoundary;
  // Clients start at different images so that concurrent requests are not all the same file.
  std::size_t next = static_cast<std::size_t>(index) % options.bodies.size();
  while (Clock::now() < window_end) {
    const std::string& body = options.bodies[next];
    next = (next + 1) % options.bodies.size();
    const auto start = Clock::now();
    auto result = client.Post(options.url.path, body, content_type);
    const auto end = Clock::now();
    std::string error;
    if (!result) {
      error = httplib::to_string(result.error());
    } else if (result->status < 200 || result->status >= 300) {
      error = std::to_string(result->status);
    } else if (options.check_body && result->body.find("\"probability\"") == std::string::npos) {
      error = "bad_body";
    }
    if (end >= window_end) {
      ++stats.late;
      stats.late_max_ms = std::max(stats.late_max_ms,
                                   std::chrono::duration<double, std::milli>(end - start).count());
    } else if (end >= window_start) {
      ++stats.requests;
      if (error.empty()) {
        stats.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(end - start).count());
      } else {
        ++stats.errors[error];
      }
    }
    // A refused or reset connection fails in microseconds; do not spin on it.
    if (!result) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

int RunLoad(LoadOptions options, const std::vector<fs::path>& files) {
  std::size_t total_bytes = 0;
  for (const auto& file : files) total_bytes += fs::file_size(file);
  const auto start = Clock::now();
  const auto window_start = start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.warmup_s));
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.duration_s));
  std::vector<ClientStats> stats(options.clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.clients; ++i)
    threads.emplace_back(RunClient, std::cref(options), i, window_start, window_end,
                         std::ref(stats[i]));
  for (auto& thread : threads) thread.join();

  std::vector<double> latencies;
  std::map<std::string, long> errors;
  long requests = 0, late = 0;
  double late_max_ms = 0;
  // Completed requests per client: a min far below the max means some connections were starved.
  std::size_t per_client_min = std::numeric_limits<std::size_t>::max(), per_client_max = 0;
  for (const auto& s : stats) {
    latencies.insert(latencies.end(), s.latencies_ms.begin(), s.latencies_ms.end());
    for (const auto& [key, count] : s.errors) errors[key] += count;
    requests += s.requests;
    late += s.late;
    late_max_ms = std::max(late_max_ms, s.late_max_ms);
    per_client_min = std::min(per_client_min, s.latencies_ms.size());
    per_client_max = std::max(per_client_max, s.latencies_ms.size());
  }
  std::sort(latencies.begin(), latencies.end());
  // The client shares the machine with the server under test; its CPU time says how much it took.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double client_cpu_s = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                              (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  double mean = 0;
  for (double v : latencies) mean += v;
  if (!latencies.empty()) mean /= latencies.size();
  const nlohmann::json out{{"url", "http://" + options.url.host + ":" +
                                       std::to_string(options.url.port) + options.url.path},
                           {"clients", options.clients},
                           {"warmup_s", options.warmup_s},
                           {"duration_s", options.duration_s},
                           {"images", files.size()},
                           {"image_bytes_mean", files.empty() ? 0 : total_bytes / files.size()},
                           {"requests", requests},
                           {"ok", latencies.size()},
                           {"errors", errors},
                           {"throughput_rps", latencies.size() / options.duration_s},
                           {"latency_ms",
                            {{"mean", mean},
                             {"p50", Percentile(latencies, 50)},
                             {"p90", Percentile(latencies, 90)},
                             {"p99", Percentile(latencies, 99)},
                             {"max", latencies.empty() ? 0.0 : latencies.back()}}},
                           {"ok_per_client", {{"min", per_client_min}, {"max", per_client_max}}},
                           {"late", {{"requests", late}, {"max_ms", late_max_ms}}},
                           {"client_cpu_s", client_cpu_s}};
  std::printf("%s\n", out.dump().c_str());
  return latencies.empty() ? 1 : 0;
}

// Real X-rays squashed up to size x size (bicubic), grayscale JPEG at `quality`: the full-size
// uploads a hospital would send, with real anatomy for the model to work on. Picks `count` files
// evenly spread over the sorted list, so both classes of a train/ folder are represented.
int MakeImages(int count, int size, int quality, const fs::path& from, const fs::path& out) {
  const auto sources = ListImages({from.string()});
  if (sources.empty() || count <= 0) {
    std::fprintf(stderr, "load_client: no .jpeg/.jpg/.png under %s\n", from.c_str());
    return 1;
  }
  fs::create_directories(out);
  std::size_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    const auto& source = sources[static_cast<std::size_t>(i) * sources.size() / count];
    cv::Mat gray = cv::imread(source.string(), cv::IMREAD_GRAYSCALE);
    if (gray.empty()) {
      std::fprintf(stderr, "load_client: cannot read %s\n", source.c_str());
      return 1;
    }
    cv::Mat big;
    cv::resize(gray, big, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
    char name[32];
    std::snprintf(name, sizeof name, "xray-%03d.jpeg", i);
    const fs::path target = out / name;
    if (!cv::imwrite(target.string(), big, {cv::IMWRITE_JPEG_QUALITY, quality})) {
      std::fprintf(stderr, "load_client: cannot write %s\n", target.c_str());
      return 1;
    }
    bytes += fs::file_size(target);
  }
  const nlohmann::json summary{{"made", count},
                               {"size", size},
                               {"quality", quality},
                               {"out", out.string()},
                               {"image_bytes_mean", bytes / count}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url_text = "http://127.0.0.1:8080/api/v1/predictions";
  std::vector<std::string> images;
  std::string field = "file";
  LoadOptions options;
  bool no_check = false;
  int make_images = 0, size = 2000, quality = 90;
  std::string out, from;

  CLI::App app{"closed-loop load generator for image uploads; prints one JSON object"};
  app.add_option("--url", url_text, "endpoint that takes a multipart upload (http only)")
      ->capture_default_str();
  app.add_option("--clients", options.clients, "concurrent clients, one connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration", options.duration_s, "measured seconds, after the warm-up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", options.warmup_s, "seconds of load before measuring")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", options.timeout_s, "per-request read/write timeout, seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--images", images, "image files or folders (searched for .jpeg/.jpg/.png)");
  app.add_option("--field", field, "multipart field name")->capture_default_str();
  app.add_option("--token", options.token, "API token, sent as Authorization: Bearer");
  app.add_flag("--no-check", no_check,
               "accept any 2xx body (default: it must contain \"probability\")");
  app.add_option("--make-images", make_images, "instead of loading: write N test JPEGs and exit");
  app.add_option("--size", size, "--make-images: side in pixels")->capture_default_str();
  app.add_option("--quality", quality, "--make-images: JPEG quality")->capture_default_str();
  app.add_option("--out", out, "--make-images: output folder");
  app.add_option("--from", from, "--make-images: folder of real X-rays to upscale");
  CLI11_PARSE(app, argc, argv);

  if (make_images > 0) {
    if (out.empty() || from.empty()) {
      std::fprintf(stderr, "load_client: --make-images needs --out and --from\n");
      return 2;
    }
    return MakeImages(make_images, size, quality, from, out);
  }

  const auto url = ParseUrl(url_text);
  if (!url) {
    std::fprintf(stderr, "load_client: --url must look like http://HOST:PORT/PATH, got %s\n",
                 url_text.c_str());
    return 2;
  }
  options.url = *url;
  options.check_body = !no_check;
  const auto files = ListImages(images);
  if (files.empty()) {
    std::fprintf(stderr, "load_client: no images; give --images FILES_OR_FOLDERS\n");
    return 2;
  }
  for (const auto& file : files) {
    auto bytes = ReadFile(file);
    if (!bytes) {
      std::fprintf(stderr, "load_client: cannot read %s\n", file.c_str());
      return 2;
    }
    options.bodies.push_back(MultipartBody(field, file, *bytes));
  }
  return RunLoad(std::move(options), files);
}

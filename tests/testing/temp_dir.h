// A temporary directory removed at scope exit, for tests that write files.
//
//   pneumo::testing::TempDir dir;
//   WriteSomething(dir.path() / "x.png");
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace pneumo::testing {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("pneumo-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The Kermany training folder when ../shared is present; empty otherwise.
inline std::filesystem::path SharedTrainDir() {
  const std::filesystem::path dir = std::filesystem::path(PNEUMO_SHARED_DATA_DIR) / "train";
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path();
}

inline constexpr char kNoSharedData[] =
    "../shared/data/chest_xray/train not found: this real-data check was NOT run";

}  // namespace pneumo::testing

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <system_error>

#include "apps/pneumo/commands.h"
#include "model/predictor.h"
#include "serving/prediction_service.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

// The model must load, match its checksums and answer a self-test before anyone gets it.
Result<model::ModelCard> Verify(const fs::path& dir) {
  auto predictor = model::Predictor::Load(dir, 1);
  if (!predictor) return std::unexpected(predictor.error());
  if (auto tested = serving::SelfTest(**predictor); !tested) return std::unexpected(tested.error());
  return (*predictor)->card();
}

// Copies the model's regular files (card, weights, members, OOD statistics) into `into`.
Result<void> CopyModel(const fs::path& from, const fs::path& into) {
  std::error_code ec;
  fs::create_directories(into, ec);
  if (ec) return Fail(ErrorCode::kIoError, "cannot create " + into.string() + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(model::ModelDirectory(from), ec)) {
    if (!entry.is_regular_file()) continue;
    fs::copy_file(entry.path(), into / entry.path().filename(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec)
      return Fail(ErrorCode::kIoError,
                  "cannot copy " + entry.path().string() + ": " + ec.message());
  }
  if (ec) return Fail(ErrorCode::kIoError, "cannot read " + from.string() + ": " + ec.message());
  return {};
}

// TARGET is a symlink to TARGET.versions/<version>-<time>: the new version is copied and checked
// beside the old one, then the link is replaced with rename(2), which readers see either before
// or after, never half-way.
Result<fs::path> PublishLocal(const fs::path& dir, const model::ModelCard& card,
                              const fs::path& target) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec)) && !fs::is_symlink(fs::symlink_status(target, ec)))
    return Fail(ErrorCode::kInvalidArgument,
                target.string() +
                    " exists and is not a symlink: publishing replaces a symlink atomically; point "
                    "--to at a new name (and pneumo serve --model at it)");
  const fs::path versions = target.string() + ".versions";
  fs::path version_dir = versions / (card.version + "-" + UtcNow("%Y%m%dT%H%M%SZ"));
  if (auto copied = CopyModel(dir, version_dir); !copied) return std::unexpected(copied.error());
  if (auto verified = Verify(version_dir); !verified) {
    fs::remove_all(version_dir, ec);
    return Fail(ErrorCode::kModelError, "the copy does not verify: " + verified.error().message);
  }
  const fs::path link_tmp = target.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove(link_tmp, ec);
  fs::create_symlink(
      fs::relative(version_dir, target.parent_path().empty() ? "." : target.parent_path()),
      link_tmp, ec);
  if (ec)
    return Fail(ErrorCode::kIoError, "cannot create " + link_tmp.string() + ": " + ec.message());
  fs::rename(link_tmp, target, ec);
  if (ec)
    return Fail(ErrorCode::kIoError, "cannot replace " + target.string() + ": " + ec.message());
  return version_dir;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// ssh://host/path: the same layout on the app server, through scp and ssh (keys, not passwords).
Result<fs::path> PublishOverSsh(const fs::path& dir, const model::ModelCard& card,
                                const std::string& url) {
  const std::string rest = url.substr(6);
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0)
    return Fail(ErrorCode::kInvalidArgument,
                "--to ssh://HOST/PATH needs a host and an absolute path");
  const std::string host = rest.substr(0, slash), path = rest.substr(slash);
  const std::string version_dir =
      path + ".versions/" + card.version + "-" + UtcNow("%Y%m%dT%H%M%SZ");
  const std::string remote = "mkdir -p " + ShellQuote(version_dir);
  const std::string copy = "scp -q -r " + ShellQuote(model::ModelDirectory(dir).string()) + "/. " +
                           ShellQuote(host + ":" + version_dir);
  const std::string swap = "ln -sfn " + ShellQuote(version_dir) + " " + ShellQuote(path + ".tmp") +
                           " && mv -Tf " + ShellQuote(path + ".tmp") + " " + ShellQuote(path);
  for (const std::string& command : {"ssh " + ShellQuote(host) + " " + ShellQuote(remote), copy,
                                     "ssh " + ShellQuote(host) + " " + ShellQuote(swap)}) {
    if (std::system(command.c_str()) != 0)
      return Fail(ErrorCode::kIoError, "publishing over ssh failed at: " + command);
  }
  return fs::path(version_dir);
}

}  // namespace

void AddModelCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("model", "Hand models over to the servers");
  cmd->require_subcommand(1);
  struct Args {
    fs::path dir;
    std::string to;
  };
  auto args = std::make_shared<Args>();
  CLI::App* publish = cmd->add_subcommand("publish",
                                          "Verify a model (checksums, self-test) and publish it "
                                          "atomically where pneumo serve --model looks: TARGET "
                                          "becomes a symlink to TARGET.versions/<version>-<time>; "
                                          "running servers pick it up within --model-poll-ms");
  publish->add_option("dir", args->dir, "Model directory to publish")
      ->required()
      ->check(CLI::ExistingDirectory);
  publish->add_option("--to", args->to, "TARGET: a local path, or ssh://HOST/PATH on an app server")
      ->required();
  publish->callback([args, &exit_code] {
    auto card = Verify(args->dir);
    if (!card) {
      std::fprintf(stderr, "pneumo model publish: %s is not publishable: %s\n", args->dir.c_str(),
                   card.error().ToString().c_str());
      exit_code = 2;
      return;
    }
    auto published = args->to.starts_with("ssh://") ? PublishOverSsh(args->dir, *card, args->to)
                                                    : PublishLocal(args->dir, *card, args->to);
    if (!published) {
      std::fprintf(stderr, "pneumo model publish: %s\n", published.error().ToString().c_str());
      exit_code = 1;
      return;
    }
    std::printf("published %s %s to %s (%s)\n", card->name.c_str(), card->version.c_str(),
                args->to.c_str(), published->c_str());
  });
}

}  // namespace pneumo::app

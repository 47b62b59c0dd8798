#include <cstdio>
#include <system_error>

#include "apps/pneumo/commands.h"
#include "core/file_bytes.h"
#include "core/sha256.h"
#include "image/decode.h"
#include "model/model_card.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

// Members must see the same input and have validated on the same patients, or their average and
// its stress calibration would mean nothing.
Result<void> CheckCompatible(const model::ModelCard& first, const model::ModelCard& other,
                             const fs::path& where) {
  auto same = [](const nlohmann::json& a, const nlohmann::json& b, const char* key) {
    return a.value(key, nlohmann::json()) == b.value(key, nlohmann::json());
  };
  if (other.input_size != first.input_size ||
      other.normalization.mode != first.normalization.mode ||
      other.normalization.equalization != first.normalization.equalization ||
      other.normalization.borders != first.normalization.borders)
    return Fail(ErrorCode::kInvalidArgument,
                where.string() + " prepares its input differently from the first member");
  if (!same(first.training, other.training, "split_seed") ||
      first.training.value("data", nlohmann::json::object()).value("fingerprint_sha256", "") !=
          other.training.value("data", nlohmann::json::object()).value("fingerprint_sha256", ""))
    return Fail(ErrorCode::kInvalidArgument,
                where.string() +
                    " was validated on other patients (split seed or data differ): its validation "
                    "images were another member's training images");
  if (other.architecture == model::kEnsembleArchitecture)
    return Fail(ErrorCode::kInvalidArgument, where.string() + " is an ensemble itself");
  return {};
}

}  // namespace

void AddEnsembleCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::vector<fs::path> members;
    fs::path out;
    fs::path data;
    std::string name = "pneumo-pneumonet";
    std::string version = "2.0.0";
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("ensemble",
                                     "Join trained models (same input, same validation split) into "
                                     "one ensemble model, then calibrate it and "
                                     "fit its OOD statistics as `pneumo calibrate` does");
  cmd->add_option("--member", args->members, "A trained model directory (repeat for each member)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->out, "Model directory to write")->required();
  cmd->add_option("--data", args->data, "The training folder the members were trained on")
      ->required();
  cmd->add_option("--name", args->name, "Model name for the card")->capture_default_str();
  cmd->add_option("--version", args->version, "Model version for the card")->capture_default_str();
  cmd->callback([args, &exit_code] {
    auto fail = [&](const Error& error) {
      std::fprintf(stderr, "pneumo ensemble: %s\n", error.ToString().c_str());
      exit_code = 2;
    };
    std::vector<model::ModelCard> cards;
    for (const auto& dir : args->members) {
      auto card = model::LoadModelCard(dir);
      if (!card) return fail(card.error());
      if (!cards.empty()) {
        if (auto ok = CheckCompatible(cards.front(), *card, dir); !ok) return fail(ok.error());
      }
      cards.push_back(std::move(*card));
    }
    std::error_code ec;
    fs::create_directories(args->out, ec);
    if (ec)
      return fail(
          {ErrorCode::kIoError, "cannot create " + args->out.string() + ": " + ec.message()});
    model::ModelCard ensemble = cards.front();
    ensemble.name = args->name;
    ensemble.version = args->version;
    ensemble.architecture = model::kEnsembleArchitecture;
    ensemble.weights_sha256.clear();
    ensemble.members.clear();
    ensemble.ood = {};
    nlohmann::json member_runs = nlohmann::json::array();
    for (std::size_t i = 0; i < cards.size(); ++i) {
      const fs::path source = model::ModelDirectory(args->members[i]) / model::kWeightsFile;
      const std::string file = "member" + std::to_string(i + 1) + ".pt";
      auto bytes = ReadFileBytes(source, std::size_t{1} << 31);
      if (!bytes) return fail(bytes.error());
      if (!cards[i].weights_sha256.empty() && Sha256Hex(*bytes) != cards[i].weights_sha256)
        return fail({ErrorCode::kModelError,
                     source.string() + " does not match the SHA-256 in its model card"});
      fs::copy_file(source, args->out / file, fs::copy_options::overwrite_existing, ec);
      if (ec)
        return fail({ErrorCode::kIoError, "cannot copy " + source.string() + ": " + ec.message()});
      nlohmann::json made = cards[i].training;
      made.erase("history");  // kept in each member's own card; the ensemble card stays readable
      made["validation"] = cards[i].validation;
      made["version"] = cards[i].version;
      ensemble.members.push_back({cards[i].architecture, file, Sha256Hex(*bytes), made});
      member_runs.push_back({{"version", cards[i].version},
                             {"seed", cards[i].training.value("seed", 0)},
                             {"seconds", cards[i].training.value("seconds", 0.0)}});
    }
    ensemble.training["ensemble"] = {{"members", member_runs},
                                     {"combination", "mean of the members' logits"},
                                     {"command", CommandLine()}};
    ensemble.training.erase("history");
    if (auto saved = model::SaveModelCard(ensemble, args->out); !saved) return fail(saved.error());
    if (auto done = Recalibrate(args->out, args->data, /*fit_ood=*/true, /*ood_percentile=*/0.99);
        !done)
      return fail(done.error());
    std::printf("ensemble of %zu members written to %s\n", cards.size(), args->out.c_str());
  });
}

}  // namespace pneumo::app

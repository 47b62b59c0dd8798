// The model card: everything needed to use a model correctly and to know how it was made.
// Stored as card.json next to weights.pt in a model directory.
//
//   auto card = LoadModelCard("models/default");          // reads models/default/card.json
//   double p = Sigmoid(logit / card->temperature + card->bias);
//   bool pneumonia = p >= card->threshold;
//
// Plain data; thread-safe to read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "image/preprocess.h"

namespace pneumo::model {

inline constexpr char kCardFile[] = "card.json";
inline constexpr char kWeightsFile[] = "weights.pt";
inline constexpr char kOodFile[] = "ood.pt";
inline constexpr char kEnsembleArchitecture[] = "ensemble";

// One network of a model. A single model has one member (its weights.pt); an ensemble has
// several, whose logits are averaged before the card's calibration.
struct ModelMember {
  std::string architecture;    // MakeNetwork name
  std::string weights_file;    // relative to the model directory
  std::string weights_sha256;  // checked on load
  nlohmann::json training;     // how this member was made (seed, recipe, best epoch...)
};

// Out-of-distribution check: the class-conditional Mahalanobis distance of the pooled features
// (squared distance divided by the number of features; 0.2 for the median validation X-ray of the
// shipped model, since shrinking the covariance damps its thin directions), averaged over members.
// The means and precision matrices live in `file`; the card holds what a reader must trust.
struct OodCheck {
  std::string file;      // empty: the model has no OOD statistics
  std::string sha256;    // of file, checked on load
  double threshold = 0;  // scores above it: "does not look like a frontal chest X-ray"
  std::string rule;      // how the threshold was chosen, in words
  nlohmann::json fit;    // images, percentile, shrinkage, rates measured when fitted
};

// The validation split a model was chosen and calibrated on, so that it can be carved again from
// the same folder (data::RebuildSplit) by evaluate and calibrate. In card.json it lives where the
// trainer always wrote it: training.split_seed (training.seed on cards before 2.0),
// training.options.validation_fraction, training.data.fingerprint_sha256, validation.split.
struct ValidationSplit {
  bool recorded = false;         // false: the card does not say (then nothing else is set)
  std::uint64_t seed = 0;        // data::SplitByPatient's seed
  double fraction = 0;           // of the patients
  std::string data_fingerprint;  // data::FingerprintImages of the folder it was carved from
  std::size_t images = 0;        // in the validation split
  std::size_t patients = 0;
};

struct ModelCard {
  std::string name = "pneumo";    // shown to users
  std::string version = "0.0.0";  // of this model, bumped at each release
  std::string architecture;       // MakeNetwork name, e.g. "pneumonet", or "ensemble"
  int input_size = 224;           // square side in pixels, one channel
  image::Normalization normalization;
  double temperature = 1.0;  // calibrated p = sigmoid(logit / temperature + bias)
  double bias = 0.0;
  double threshold = 0.5;            // on the calibrated probability
  std::string threshold_rule;        // how the threshold was chosen, in words
  std::string weights_sha256;        // of weights.pt, checked on load (single model)
  std::vector<ModelMember> members;  // an ensemble's networks; empty for a single model
  OodCheck ood;
  ValidationSplit split;
  nlohmann::json validation;    // metrics on the validation split
  nlohmann::json training;      // data fingerprint, seed, options, command, date, timings
  nlohmann::json intended_use;  // use and limits, in words
};

nlohmann::json ToJson(const ModelCard& card);
Result<ModelCard> ModelCardFromJson(const nlohmann::json& json);

// `path` is a model directory or its card.json. kNotFound / kModelError with the reason.
Result<ModelCard> LoadModelCard(const std::filesystem::path& path);
Result<void> SaveModelCard(const ModelCard& card, const std::filesystem::path& model_dir);

// The networks to load: the ensemble's members, or the single model as one member.
std::vector<ModelMember> MembersOf(const ModelCard& card);

// The model directory for a --model argument (directory or card.json path).
std::filesystem::path ModelDirectory(const std::filesystem::path& path);

}  // namespace pneumo::model

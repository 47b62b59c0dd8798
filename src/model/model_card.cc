#include "model/model_card.h"

#include <fstream>

namespace pneumo::model {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<ModelMember> MembersOf(const ModelCard& card) {
  if (!card.members.empty()) return card.members;
  return {ModelMember{card.architecture, kWeightsFile, card.weights_sha256, json::object()}};
}

json ToJson(const ModelCard& card) {
  json out{
      {"name", card.name},
      {"version", card.version},
      {"architecture", card.architecture},
      {"input",
       {{"size", card.input_size},
        {"channels", 1},
        {"resize", "squash (aspect ratio not kept), area interpolation"}}},
      {"normalization",
       {{"mode", card.normalization.mode},
        {"mean", card.normalization.mean},
        {"std", card.normalization.std},
        {"equalization", card.normalization.equalization},
        {"borders", card.normalization.borders}}},
      {"temperature", card.temperature},
      {"bias", card.bias},
      {"threshold", card.threshold},
      {"threshold_rule", card.threshold_rule},
      {"weights", {{"file", kWeightsFile}, {"sha256", card.weights_sha256}}},
      {"validation", card.validation},
      {"training", card.training},
      {"intended_use", card.intended_use},
  };
  if (!card.members.empty()) {
    out.erase("weights");
    json members = json::array();
    for (const auto& m : card.members)
      members.push_back({{"architecture", m.architecture},
                         {"weights", {{"file", m.weights_file}, {"sha256", m.weights_sha256}}},
                         {"training", m.training}});
    out["members"] = members;
  }
  if (card.split.recorded) {
    out["training"]["split_seed"] = card.split.seed;
    out["training"]["options"]["validation_fraction"] = card.split.fraction;
    out["training"]["data"]["fingerprint_sha256"] = card.split.data_fingerprint;
    out["validation"]["split"] = {{"images", card.split.images},
                                  {"patients", card.split.patients},
                                  {"rule", "by patient, stratified by label, seeded"}};
  }
  if (!card.ood.file.empty())
    out["ood"] = {{"file", card.ood.file},
                  {"sha256", card.ood.sha256},
                  {"threshold", card.ood.threshold},
                  {"rule", card.ood.rule},
                  {"fit", card.ood.fit}};
  return out;
}

namespace {

// The fields a card must have, with their JSON types, so that a broken card is refused with the
// field's name ("threshold must be a number") rather than the JSON library's words alone.
// kCount: a non-negative integer, checked before get<int>() or get<uint64_t>(), for which a
// number such as 1e300 or -1.5 is undefined behaviour (found with fuzz/model_card_fuzzer.cc).
enum class Kind { kString, kNumber, kObject, kCount };
struct FieldRule {
  const char* pointer;
  Kind kind;
  bool required;
};
constexpr FieldRule kFieldRules[] = {
    {"/name", Kind::kString, true},
    {"/version", Kind::kString, true},
    {"/architecture", Kind::kString, true},
    {"/input/size", Kind::kCount, true},
    {"/normalization/mode", Kind::kString, true},
    {"/normalization/mean", Kind::kNumber, true},
    {"/normalization/std", Kind::kNumber, true},
    {"/temperature", Kind::kNumber, true},
    {"/bias", Kind::kNumber, false},
    {"/threshold", Kind::kNumber, true},
    {"/ood/threshold", Kind::kNumber, false},
    {"/validation", Kind::kObject, false},
    {"/training", Kind::kObject, false},
    {"/training/split_seed", Kind::kCount, false},
    {"/training/seed", Kind::kCount, false},
    {"/validation/split/images", Kind::kCount, false},
    {"/validation/split/patients", Kind::kCount, false},
};

Result<void> CheckFieldTypes(const json& j) {
  if (!j.is_object()) return Fail(ErrorCode::kModelError, "model card: not a JSON object");
  for (const FieldRule& rule : kFieldRules) {
    const json::json_pointer pointer(rule.pointer);
    const std::string name = std::string(rule.pointer).substr(1);
    if (!j.contains(pointer)) {
      if (rule.required) return Fail(ErrorCode::kModelError, "model card: " + name + " is missing");
      continue;
    }
    const json& value = j.at(pointer);
    const bool ok = rule.kind == Kind::kString   ? value.is_string()
                    : rule.kind == Kind::kNumber ? value.is_number()
                    : rule.kind == Kind::kCount  ? value.is_number_integer() && value >= 0
                                                 : value.is_object() || value.is_null();
    if (!ok) {
      const char* expected = rule.kind == Kind::kString   ? "a string"
                             : rule.kind == Kind::kNumber ? "a number"
                             : rule.kind == Kind::kCount  ? "a non-negative integer"
                                                          : "an object";
      return Fail(ErrorCode::kModelError,
                  "model card: " + name + " must be " + expected + ", not " + value.dump());
    }
  }
  return {};
}

}  // namespace

Result<ModelCard> ModelCardFromJson(const json& j) {
  try {
    if (auto checked = CheckFieldTypes(j); !checked) return std::unexpected(checked.error());
    ModelCard card;
    card.name = j.at("name").get<std::string>();
    card.version = j.at("version").get<std::string>();
    card.architecture = j.at("architecture").get<std::string>();
    const auto input_size = j.at("input").at("size").get<std::uint64_t>();
    if (input_size < 8 || input_size > 4096)
      return Fail(ErrorCode::kModelError, "model card: input.size out of range");
    card.input_size = static_cast<int>(input_size);
    const auto& norm = j.at("normalization");
    card.normalization.mode = norm.at("mode").get<std::string>();
    card.normalization.mean = norm.at("mean").get<float>();
    card.normalization.std = norm.at("std").get<float>();
    card.normalization.equalization = norm.value("equalization", "none");
    card.normalization.borders = norm.value("borders", "none");
    card.temperature = j.at("temperature").get<double>();
    card.bias = j.value("bias", 0.0);  // cards before calibration had an intercept have none
    card.threshold = j.at("threshold").get<double>();
    card.threshold_rule = j.value("threshold_rule", "");
    if (j.contains("members")) {
      for (const auto& m : j.at("members")) {
        ModelMember member{
            m.at("architecture").get<std::string>(), m.at("weights").at("file").get<std::string>(),
            m.at("weights").value("sha256", ""), m.value("training", json::object())};
        // Members live inside the model directory: no absolute paths, no way out of it.
        const fs::path file(member.weights_file);
        if (file.empty() || file.is_absolute() ||
            file.lexically_normal().string().starts_with(".."))
          return Fail(ErrorCode::kModelError,
                      "model card: a member's weights file must lie inside the model directory");
        card.members.push_back(std::move(member));
      }
      if (card.members.empty()) return Fail(ErrorCode::kModelError, "model card: members is empty");
    } else {
      card.weights_sha256 = j.at("weights").value("sha256", "");
    }
    if (j.contains("ood")) {
      const auto& ood = j.at("ood");
      card.ood.file = ood.at("file").get<std::string>();
      card.ood.sha256 = ood.value("sha256", "");
      card.ood.threshold = ood.at("threshold").get<double>();
      card.ood.rule = ood.value("rule", "");
      card.ood.fit = ood.value("fit", json::object());
      const fs::path file(card.ood.file);
      if (file.empty() || file.is_absolute() || file.lexically_normal().string().starts_with(".."))
        return Fail(ErrorCode::kModelError,
                    "model card: the OOD statistics file must lie inside the model directory");
      if (!(card.ood.threshold > 0))
        return Fail(ErrorCode::kModelError, "model card: ood.threshold must be > 0");
    }
    card.validation = j.value("validation", json::object());
    card.training = j.value("training", json::object());
    card.intended_use = j.value("intended_use", json::object());
    const json& t = card.training;
    const bool has_seed = t.contains("split_seed") || t.contains("seed");
    if (has_seed && t.contains("options") && t.at("options").contains("validation_fraction") &&
        t.contains("data") && t.at("data").contains("fingerprint_sha256")) {
      card.split.recorded = true;
      // Cards before 2.0 split with the training seed; later ones record the split's own.
      card.split.seed = t.contains("split_seed") ? t.at("split_seed").get<std::uint64_t>()
                                                 : t.at("seed").get<std::uint64_t>();
      card.split.fraction = t.at("options").at("validation_fraction").get<double>();
      card.split.data_fingerprint = t.at("data").at("fingerprint_sha256").get<std::string>();
      const json split = card.validation.value("split", json::object());
      card.split.images = split.value("images", std::size_t{0});
      card.split.patients = split.value("patients", std::size_t{0});
    }
    if (card.input_size < 8 || card.input_size > 4096)
      return Fail(ErrorCode::kModelError, "model card: input.size out of range");
    if (!(card.temperature > 0))
      return Fail(ErrorCode::kModelError, "model card: temperature must be > 0");
    if (!(card.threshold > 0 && card.threshold < 1))
      return Fail(ErrorCode::kModelError, "model card: threshold must lie in (0, 1)");
    if (auto valid = image::ValidateNormalization(card.normalization); !valid)
      return Fail(ErrorCode::kModelError, "model card: " + valid.error().message);
    return card;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kModelError,
                std::string("model card is missing a field or has a wrong type: ") + e.what());
  }
}

fs::path ModelDirectory(const fs::path& path) {
  return path.filename() == kCardFile ? path.parent_path() : path;
}

Result<ModelCard> LoadModelCard(const fs::path& path) {
  const fs::path file = ModelDirectory(path) / kCardFile;
  std::ifstream in(file);
  if (!in) return Fail(ErrorCode::kNotFound, "no model card at " + file.string());
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(ErrorCode::kModelError, file.string() + " is not valid JSON");
  return ModelCardFromJson(j);
}

Result<void> SaveModelCard(const ModelCard& card, const fs::path& model_dir) {
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  const fs::path file = model_dir / kCardFile;
  std::ofstream out(file);
  out << ToJson(card).dump(2) << "\n";
  if (!out) return Fail(ErrorCode::kIoError, "cannot write " + file.string());
  return {};
}

}  // namespace pneumo::model

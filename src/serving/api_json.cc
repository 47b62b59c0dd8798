#include "serving/api_json.h"

namespace pneumo::serving {
namespace {
// Records stored before details existed, or by another writer, may carry anything here.
nlohmann::json Details(const store::PredictionRecord& record) {
  auto details = nlohmann::json::parse(record.details_json, nullptr, /*allow_exceptions=*/false);
  return details.is_object() ? details : nlohmann::json::object();
}

// Probability of the predicted class, as the original API reported it.
double Confidence(const store::PredictionRecord& record) {
  return record.label == "PNEUMONIA" ? record.probability : 1.0 - record.probability;
}
}  // namespace

nlohmann::json PredictionJson(const store::PredictionRecord& r) {
  const auto details = Details(r);
  const std::string self = "/api/v1/predictions/" + r.id;
  nlohmann::json reasons = details.value("review_reasons", nlohmann::json::array());
  if (!reasons.is_array()) reasons = nlohmann::json::array();
  nlohmann::json image = details.value("image", nlohmann::json::object());
  if (!image.is_object()) image = nlohmann::json::object();
  nlohmann::json out{
      {"id", r.id},
      {"filename", r.filename},
      {"label", r.label},
      {"probability", r.probability},
      {"threshold", r.threshold},
      {"review", r.review},
      {"review_reasons", reasons},
      {"model", {{"name", r.model_name}, {"version", r.model_version}}},
      {"sha256", r.sha256},
      {"created_at", r.created_at},
      {"image", image},
      {"timings_ms", {{"decode", r.decode_ms}, {"queue", r.queue_ms}, {"inference", r.inference_ms}}},
      {"links", {{"self", self}, {"image", self + "/image"}, {"heatmap", self + "/heatmap"}}},
  };
  // Present when the model that made the prediction has OOD statistics (null before 2.0 models).
  const auto score = details.find("ood_score");
  out["ood_score"] = score != details.end() && score->is_number() ? *score : nlohmann::json(nullptr);
  const auto ood = details.find("out_of_distribution");
  out["out_of_distribution"] = ood != details.end() && ood->is_boolean() && ood->get<bool>();
  return out;
}

nlohmann::json PredictionPageJson(const store::PredictionPage& page) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : page.items) items.push_back(PredictionJson(r));
  const std::int64_t pages = (page.total + page.per_page - 1) / page.per_page;
  return {{"items", std::move(items)}, {"page", page.page}, {"per_page", page.per_page},
          {"total", page.total}, {"pages", pages}};
}

nlohmann::json CompatPredictionJson(const store::PredictionRecord& r) {
  return {{"id", r.id},
          {"filename", r.filename},
          {"prediction", r.label},
          {"confidence", Confidence(r)},
          {"probability", r.probability},
          {"timestamp", r.created_at}};
}

nlohmann::json CompatPageJson(const store::PredictionPage& page) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : page.items) {
    items.push_back({{"id", r.id},
                     {"filename", r.filename},
                     {"prediction", r.label},
                     {"confidence", Confidence(r)},
                     {"timestamp", r.created_at}});
  }
  return {{"predictions", std::move(items)}, {"page", page.page}, {"per_page", page.per_page},
          {"total", page.total}};
}

std::string JsonText(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  return JsonText({{"error", {{"code", code}, {"message", message}}}});
}

}  // namespace pneumo::serving

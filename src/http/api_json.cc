#include "http/api_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/base64.h"

namespace pneumo::http {
namespace {
// Records stored before details existed, or by another writer, may carry anything here.
nlohmann::json Details(const store::PredictionRecord& record) {
  auto details = nlohmann::json::parse(record.details_json, nullptr, /*allow_exceptions=*/false);
  return details.is_object() ? details : nlohmann::json::object();
}

// The original API's class names.
const char* CompatLabel(const store::PredictionRecord& record) {
  return record.label == "PNEUMONIA" ? "Pneumonia" : "Normal";
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
      {"timings_ms",
       {{"decode", r.decode_ms}, {"queue", r.queue_ms}, {"inference", r.inference_ms}}},
      {"links", {{"self", self}, {"image", self + "/image"}, {"heatmap", self + "/heatmap"}}},
  };
  // Present when the model that made the prediction has OOD statistics (null before 2.0 models).
  const auto score = details.find("ood_score");
  out["ood_score"] =
      score != details.end() && score->is_number() ? *score : nlohmann::json(nullptr);
  const auto ood = details.find("out_of_distribution");
  out["out_of_distribution"] = ood != details.end() && ood->is_boolean() && ood->get<bool>();
  // Where a DICOM input came from (null for JPEG/PNG). Identifiers only: the patient attributes
  // kept for the result objects are not served.
  if (r.dicom.empty()) {
    out["dicom"] = nullptr;
  } else {
    out["dicom"] = {{"study_instance_uid", r.dicom.study_instance_uid},
                    {"series_instance_uid", r.dicom.series_instance_uid},
                    {"sop_instance_uid", r.dicom.sop_instance_uid},
                    {"accession_number", r.dicom.accession_number},
                    {"modality", r.dicom.modality}};
    out["links"]["sr"] = self + "/sr";
  }
  return out;
}

nlohmann::json PredictionPageJson(const store::PredictionPage& page) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : page.items) items.push_back(PredictionJson(r));
  const std::int64_t pages = (page.total + page.per_page - 1) / page.per_page;
  return {{"items", std::move(items)},
          {"page", page.page},
          {"per_page", page.per_page},
          {"total", page.total},
          {"pages", pages}};
}

nlohmann::json CompatPredictionJson(const store::PredictionRecord& r,
                                    std::string_view image_data_url) {
  nlohmann::json out{{"prediction", CompatLabel(r)},
                     {"confidence", CompatPercent(r.probability)},
                     {"filename", r.filename},
                     {"image", image_data_url},
                     {"timestamp", LocalTimestamp(r.created_at_ms * 1000)},
                     {"probability", r.probability},
                     {"id", r.id},
                     {"threshold", r.threshold},
                     {"review", r.review}};
  const auto details = Details(r);
  if (const auto reasons = details.find("review_reasons");
      reasons != details.end() && reasons->is_array()) {
    out["review_reasons"] = *reasons;
  }
  if (const auto score = details.find("ood_score"); score != details.end() && score->is_number()) {
    out["ood_score"] = *score;
  }
  return out;
}

nlohmann::ordered_json CompatPageJson(const store::PredictionPage& page) {
  nlohmann::ordered_json data = nlohmann::ordered_json::object();
  for (const auto& r : page.items) {
    std::string key = r.filename;
    if (data.contains(key)) key += " [" + r.id + "]";
    data[key] = {{"prediction", CompatLabel(r)}, {"confidence", PythonFloatRepr(r.probability)}};
  }
  const std::int64_t pages = (page.total + page.per_page - 1) / page.per_page;
  return {{"data", std::move(data)},
          {"page", page.page},
          {"total_keys", page.total},
          {"items_per_page", page.per_page},
          {"total_pages", pages}};
}

nlohmann::json CompatHealthJson(bool store_connected, std::int64_t now_unix_us) {
  return {{"status", store_connected ? "healthy" : "unhealthy"},
          {"timestamp", LocalTimestamp(now_unix_us)},
          {"model_loaded", true},
          {"store_connected", store_connected}};
}

std::string CompatErrorBody(std::string_view message) {
  return JsonText(nlohmann::json{{"error", message}});
}

std::string DataUrl(std::string_view media_type, std::span<const std::uint8_t> bytes) {
  return "data:" + std::string(media_type) + ";base64," + Base64Encode(bytes);
}

std::string CompatPercent(double probability) {
  // Sized by snprintf itself: a probability outside [0, 1] (a corrupt record) has more digits
  // than a fixed buffer holds, and was cut off, losing its '%'.
  const int n = std::snprintf(nullptr, 0, "%.2f%%", probability * 100.0);
  std::string text(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  std::snprintf(text.data(), text.size() + 1, "%.2f%%", probability * 100.0);
  return text;
}

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest round-trip digits, as d.ddde[+-]xx; then laid out as Python's repr does.
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  if (ec != std::errc()) return "nan";  // cannot happen: 64 characters hold any double
  const std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  const bool negative = text.starts_with('-');
  const std::size_t e_at = text.find('e');
  std::string digits;
  for (char c : text.substr(negative ? 1 : 0, e_at - (negative ? 1 : 0))) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  const std::string_view exponent_text = text.substr(e_at + 1);
  std::from_chars(exponent_text.data() + (exponent_text.starts_with('+') ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);
  std::string out(negative ? "-" : "");
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out.append(e);
  }
  if (exponent < 0)
    return out.append("0.").append(static_cast<std::size_t>(-exponent - 1), '0').append(digits);
  const auto whole = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= whole)
    return out.append(digits).append(whole - digits.size(), '0').append(".0");
  return out.append(digits, 0, whole).append(".").append(digits, whole);
}

std::string LocalTimestamp(std::int64_t unix_us) {
  std::int64_t seconds = unix_us / 1'000'000;
  std::int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm local{};
  localtime_r(&t, &local);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", local.tm_year + 1900,
                local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<long long>(micros));
  return text;
}

std::string JsonText(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string OrderedJsonText(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  return JsonText({{"error", {{"code", code}, {"message", message}}}});
}

}  // namespace pneumo::http

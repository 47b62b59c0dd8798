// The JSON that crosses pneumo's HTTP API. A request body read as the server's JsonBody does
// (http::ParseJsonObject: at most 64 KiB and 16 levels, an object required) for the login,
// password, account and token routes; a stored record's details_json (whatever a store holds) and
// arbitrary bytes as file names, rendered by PredictionJson, CompatPredictionJson and
// AuditEntryJson and serialised by JsonText; and the original API's number formats
// (PythonFloatRepr, CompatPercent). Checks: every rendered text is valid JSON that parses back
// (invalid UTF-8 becomes U+FFFD, never an exception); a body that parses survives JsonText
// unchanged; PythonFloatRepr reads back as the same double; a data: URL's base64 decodes to the
// bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "auth/audit_json.h"
#include "core/base64.h"
#include "fuzz_check.h"
#include "http/api_json.h"
#include "http/json_body.h"

namespace {

void CheckParses(const std::string& text, const char* what) {
  FUZZ_CHECK(nlohmann::json::accept(text), what);
}

void CheckFloat(double value) {
  const std::string repr = pneumo::http::PythonFloatRepr(value);
  if (std::isnan(value)) {
    FUZZ_CHECK(repr == "nan", "NaN not written as nan");
    return;
  }
  char* end = nullptr;
  const double back = std::strtod(repr.c_str(), &end);
  FUZZ_CHECK(end && *end == '\0', "PythonFloatRepr wrote text strtod does not read whole");
  FUZZ_CHECK(back == value && std::signbit(back) == std::signbit(value),
             "PythonFloatRepr does not read back as the same double");
  const std::string percent = pneumo::http::CompatPercent(value);
  FUZZ_CHECK(!percent.empty() && percent.back() == '%', "CompatPercent without its %");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pneumo;
  FuzzedDataProvider input(data, size);
  double value = 0;
  const std::vector<std::uint8_t> raw = input.ConsumeBytes<std::uint8_t>(sizeof value);
  if (raw.size() == sizeof value) std::memcpy(&value, raw.data(), sizeof value);
  CheckFloat(value);

  store::PredictionRecord record;
  record.id = input.ConsumeRandomLengthString(48);
  record.filename = input.ConsumeRandomLengthString(64);
  record.label = input.ConsumeBool() ? "PNEUMONIA" : "NORMAL";
  record.probability = value;
  record.threshold = input.ConsumeProbability<double>();
  record.dicom.sop_instance_uid = input.ConsumeRandomLengthString(16);
  record.details_json = input.ConsumeRandomLengthString(512);
  const std::string body = input.ConsumeRemainingBytesAsString();

  // The request body, as JsonBody reads it (http::ParseJsonObject, with its size and depth
  // limits), then as StringField does.
  const auto accepted = http::ParseJsonObject(body);
  FUZZ_CHECK(accepted || accepted.error().status == 400 || accepted.error().status == 413,
             "a refused JSON body is neither 400 nor 413");
  FUZZ_CHECK(!accepted || (body.size() <= http::kMaxJsonBodyBytes &&
                           http::JsonNestingDepth(body) <= http::kMaxJsonDepth),
             "a JSON body over the limits was accepted");
  const nlohmann::json parsed = accepted ? *accepted : nlohmann::json();
  if (parsed.is_object()) {
    for (const char* key : {"username", "password", "new_password", "role", "label"}) {
      if (parsed.contains(key) && parsed[key].is_string()) (void)parsed[key].get<std::string>();
    }
    const std::string text = http::JsonText(parsed);
    FUZZ_CHECK(nlohmann::json::parse(text, nullptr, false) == parsed,
               "a request body does not survive JsonText");
  }

  CheckParses(http::JsonText(http::PredictionJson(record)), "PredictionJson is not JSON");
  const std::vector<std::uint8_t> image(record.filename.begin(), record.filename.end());
  const std::string url = http::DataUrl("image/png", image);
  CheckParses(http::JsonText(http::CompatPredictionJson(record, url)),
              "CompatPredictionJson is not JSON");
  auto decoded = Base64Decode(url.substr(url.find(',') + 1));
  FUZZ_CHECK(decoded && *decoded == record.filename, "a data: URL does not decode to its bytes");
  store::PredictionPage page{.items = {record, record}, .total = 2};
  CheckParses(http::OrderedJsonText(http::CompatPageJson(page)), "CompatPageJson is not JSON");
  CheckParses(http::JsonText(http::PredictionPageJson(page)), "PredictionPageJson is not JSON");
  store::AuditEntry entry{.seq = 1,
                          .time_ms = std::isfinite(value) && std::abs(value) < 1e15
                                         ? static_cast<std::int64_t>(value)
                                         : 0,
                          .user = record.filename,
                          .action = record.id,
                          .target_id = record.details_json};
  CheckParses(http::JsonText(auth::AuditEntryJson(entry)), "AuditEntryJson is not JSON");
  CheckParses(http::ErrorBody(record.id, body), "ErrorBody is not JSON");
  CheckParses(http::CompatErrorBody(body), "CompatErrorBody is not JSON");
  return 0;
}

// The JSON shapes of the HTTP API (docs/http-api.md), in one place so the server, the OpenAPI
// description and the tests agree.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "model/model_card.h"
#include "store/prediction_record.h"

namespace pneumo::http {

// /api/v1/predictions/{id}: the record plus review reasons, image facts and links.
nlohmann::json PredictionJson(const store::PredictionRecord& record);

// /api/v1/predictions?page=: items newest first, with totals.
nlohmann::json PredictionPageJson(const store::PredictionPage& page);

// The original Flask API (POST /predict, GET /predictions, GET /health), field for field and in
// its string formats, for the clients written against it (docs/http-api.md, "Compatibility").

// GET /predictions pages hold this many predictions, as the original's did.
inline constexpr int kCompatPerPage = 25;

// POST /predict: {"prediction": "Pneumonia"|"Normal", "confidence": "97.12%" (P(pneumonia), not of
// the predicted class), "filename", "image": `image_data_url`, "timestamp": local time}, plus
// pneumo's "probability", "id", "threshold", "review", and "review_reasons" and "ood_score" when
// the record's details have them.
nlohmann::json CompatPredictionJson(const store::PredictionRecord& record,
                                    std::string_view image_data_url);

// GET /predictions?page=: {"data": {filename: {"prediction", "confidence": P(pneumonia) as
// PythonFloatRepr}}, "page", "total_keys", "items_per_page", "total_pages"}, the data in the
// order of page.items (newest first: ordered_json keeps it in the text). A name that comes again
// on the page is shown as "<name> [<id>]" so that no prediction is hidden; the first (newest)
// keeps the plain name.
nlohmann::ordered_json CompatPageJson(const store::PredictionPage& page);

// GET /health: {"status": "healthy"|"unhealthy", "timestamp", "model_loaded", "store_connected"}.
nlohmann::json CompatHealthJson(bool store_connected, std::int64_t now_unix_us);

// {"error": message}: the original's error body.
std::string CompatErrorBody(std::string_view message);

// "data:<media_type>;base64,<bytes in base64>".
std::string DataUrl(std::string_view media_type, std::span<const std::uint8_t> bytes);

// "97.12%": 100 * probability with two decimals.
std::string CompatPercent(double probability);

// What Python's str(float) writes: the shortest text that reads back as the same double, in
// fixed notation from 1e-4 up to 1e16 ("0.9712", "1.0", "0.0001"), else in exponent notation
// with at least two exponent digits ("1e-05", "2.5e-07", "1e+16"); "nan", "inf", "-inf".
std::string PythonFloatRepr(double value);

// "2026-12-01 18:09:05.457913": the server's local time (TZ), microseconds always written, as
// Python's str(datetime.now()) writes it (but for the microseconds, which it drops when zero).
std::string LocalTimestamp(std::int64_t unix_us);

// Serialises for the wire. Invalid UTF-8 (a file name is whatever bytes the client sent) becomes
// U+FFFD instead of throwing.
std::string JsonText(const nlohmann::json& json);
std::string OrderedJsonText(const nlohmann::ordered_json& json);  // keeps the order of the keys

// {"error": {"code": ..., "message": ...}}
std::string ErrorBody(std::string_view code, std::string_view message);

}  // namespace pneumo::http

// The JSON shapes of the HTTP API (docs/http-api.md), in one place so the server, the OpenAPI
// description and the tests agree.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "model/model_card.h"
#include "store/prediction_record.h"

namespace pneumo::serving {

// /api/v1/predictions/{id}: the record plus review reasons, image facts and links.
nlohmann::json PredictionJson(const store::PredictionRecord& record);

// /api/v1/predictions?page=: items newest first, with totals.
nlohmann::json PredictionPageJson(const store::PredictionPage& page);

// The original Flask API's shapes (POST /predict, GET /predictions).
nlohmann::json CompatPredictionJson(const store::PredictionRecord& record);
nlohmann::json CompatPageJson(const store::PredictionPage& page);

// Serialises for the wire. Invalid UTF-8 (a file name is whatever bytes the client sent) becomes
// U+FFFD instead of throwing.
std::string JsonText(const nlohmann::json& json);

// {"error": {"code": ..., "message": ...}}
std::string ErrorBody(std::string_view code, std::string_view message);

}  // namespace pneumo::serving

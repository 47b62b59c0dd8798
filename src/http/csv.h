// CSV (RFC 4180) for the history export, safe to open in a spreadsheet.
//
//   std::string row = CsvRow({"01JD3F", "chest,left.png", "=HYPERLINK(...)"});
//   // 01JD3F,"chest,left.png",'=HYPERLINK(...)\r\n
//
// A cell holding a comma, quote, CR or LF is quoted with its quotes doubled. A cell that a
// spreadsheet would run as a formula (it starts with =, +, -, @, a tab or CR) gets a leading
// apostrophe first: an uploaded file name must not become a formula on an admin's machine
// (CSV injection). Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pneumo::http {

std::string CsvCell(std::string_view text);
// The cells, comma-separated, ending in CRLF.
std::string CsvRow(const std::vector<std::string>& cells);

}  // namespace pneumo::http

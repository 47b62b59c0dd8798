// Settings of a subcommand from a config file and the environment, keyed by its long option
// names, so that every flag has a key and a variable without a table to keep in step:
//
//   --max-batch  ->  key `max_batch` in the file  ->  environment variable PNEUMO_MAX_BATCH
//
//   // in the subcommand's callback, after CLI11 has parsed the command line:
//   auto settings = ApplyConfig(*cmd, {.file = path, .required = given, .skip = {"config"}});
//   if (!settings) { report settings.error(); exit 2 }
//   std::fputs(FormatConfig(*cmd, *settings).c_str(), stdout);  // --print-config
//
// Precedence, as the operations issue asks: the environment (PNEUMO_*) overrides the command
// line, which overrides the file, which overrides the built-in default. (The usual Unix order puts
// the command line last; here an environment set by the service manager wins over a flag typed in
// a unit's ExecStart. FormatConfig names where each value came from, so there is no guessing.)
//
// The file: `key = value` lines, `#` comments, an optional `[serve]` section header; strings in
// double quotes (TOML's basic strings: \" \\ \n \t escapes) or bare, numbers and true/false bare.
// It reads as TOML and as INI. Not thread-safe: call from the parsing thread.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "core/error.h"

namespace pneumo::app {

// `--max-batch` -> `max_batch`.
std::string ConfigKey(const CLI::Option& option);
// `max_batch` -> `PNEUMO_MAX_BATCH`.
std::string ConfigEnvName(const std::string& key);

struct ConfigRequest {
  std::filesystem::path file;  // empty: no file
  bool required = false;       // a missing file is an error (it was named, not defaulted)
  std::string section;         // the one [section] the file may have, e.g. "serve"
  std::set<std::string> skip;  // keys that are not settings (e.g. "config", "print_config")
};

// Where each key's value came from: "default", "command line", "FILE:LINE" or "$PNEUMO_X"
// (followed by kOverCommandLine when the variable replaced a flag's value).
inline constexpr std::string_view kOverCommandLine = ", over the command line";
using ConfigOrigins = std::map<std::string, std::string>;

// Applies the file's and the environment's values to the options CLI11 has parsed (see the
// precedence above). kInvalidArgument names the file, line and key of a malformed line, an
// unknown or repeated key, or a value the option refuses; kNotFound a required file that is
// missing. Empty environment variables count as unset.
Result<ConfigOrigins> ApplyConfig(CLI::App& cmd, const ConfigRequest& request);

// The merged settings in the file's format, every key with its description and origin as
// comments; secrets masked (keys that name a password or secret, and the password of a URL
// such as redis://:PASSWORD@host).
std::string FormatConfig(const CLI::App& cmd, const ConfigRequest& request,
                         const ConfigOrigins& origins);

// "redis://:hunter2@h:6379/0" -> "redis://:***@h:6379/0"; other text unchanged.
std::string MaskUrlPassword(const std::string& text);

// `store` with the Redis password from `store_password` or the first line of
// `store_password_file` joined in (redis://:PASSWORD@host...), so that the password can stay off
// the command line. `store` unchanged when neither is given; kInvalidArgument when both are, when
// the store is not redis:// or already holds a password; kIoError when the file is unreadable.
Result<std::string> StoreUrlWithPassword(const std::string& store,
                                         const std::string& store_password,
                                         const std::filesystem::path& store_password_file);

}  // namespace pneumo::app

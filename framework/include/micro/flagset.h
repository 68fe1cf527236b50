// FlagSet: command-line flags with MICRO_* environment fallbacks, for the
// binaries that are not a micro::Service (the API gateway, the micro CLI).
//
//   micro::FlagSet flags("api-gateway", "HTTP gateway to micro services");
//   std::string address;
//   flags.String("address", "MICRO_API_ADDRESS", ":8080", "listen address", &address);
//   absl::Status s = flags.Parse(argc, argv, &args, &help);
//
// A value comes from --name value / --name=value, else the variable, else the
// default (the precedence Service::Init uses). Errors name the flag or the
// variable. Not thread-safe; use it from main().
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro {

class FlagSet {
 public:
  FlagSet(std::string program, std::string synopsis);

  void String(std::string name, std::string env, std::string default_value, std::string help,
              std::string* target);
  // --name alone means true; --name=false, or the variable "false"/"0", false.
  void Bool(std::string name, std::string env, bool default_value, std::string help, bool* target);
  // "30s", "250ms", "1m", or a plain number of seconds.
  void Duration(std::string name, std::string env, std::chrono::milliseconds default_value,
                std::string help, std::chrono::milliseconds* target);
  // A byte count: "1048576", "64KiB", "10MiB".
  void Bytes(std::string name, std::string env, std::size_t default_value, std::string help,
             std::size_t* target);
  void Int(std::string name, std::string env, int default_value, std::string help, int* target);
  // A repeatable flag: every --name adds a value; the variable gives one value
  // when no flag does. `*target` keeps what it holds when neither is given.
  void Strings(std::string name, std::string env, std::string help,
               std::vector<std::string>* target);

  // Reads argv (flags may come before or after positional arguments; "--"
  // ends flags). Positional arguments go to `*args`; `*help` is set on
  // --help/-h. Unknown flags are an error.
  absl::Status Parse(int argc, char** argv, std::vector<std::string>* args, bool* help);
  std::string Usage() const;
  // Where a flag's value came from in the last Parse: "flag --name",
  // "variable NAME", or "" when neither gave one (the default stands).
  std::string Source(absl::string_view name) const;

 private:
  struct Flag {
    std::string name, env, help, default_text;
    bool is_bool = false;
    std::function<absl::Status(absl::string_view value, const std::string& source)> set;
    bool repeated = false;
  };
  void Add(Flag flag);
  std::string program_, synopsis_;
  std::vector<Flag> flags_;
  std::map<std::string, std::string> sources_;
};

}  // namespace micro

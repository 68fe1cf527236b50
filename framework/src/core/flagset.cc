#include "micro/flagset.h"

#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace micro {
namespace {

absl::Status Bad(const std::string& source, absl::string_view value, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": \"", value, "\" is not ", want));
}

}  // namespace

FlagSet::FlagSet(std::string program, std::string synopsis)
    : program_(std::move(program)), synopsis_(std::move(synopsis)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

void FlagSet::String(std::string name, std::string env, std::string default_value, std::string help,
                     std::string* target) {
  *target = default_value;
  Add({std::move(name), std::move(env), std::move(help), default_value, false,
       [target](absl::string_view v, const std::string&) {
         *target = std::string(v);
         return absl::OkStatus();
       }});
}

void FlagSet::Bool(std::string name, std::string env, bool default_value, std::string help,
                   bool* target) {
  *target = default_value;
  Add({std::move(name), std::move(env), std::move(help), default_value ? "true" : "false", true,
       [target](absl::string_view v, const std::string& source) {
         std::string s = absl::AsciiStrToLower(v);
         if (s == "1" || s == "true" || s == "yes" || s == "on") {
           *target = true;
         } else if (s == "0" || s == "false" || s == "no" || s == "off") {
           *target = false;
         } else {
           return Bad(source, v, "true or false");
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Duration(std::string name, std::string env, std::chrono::milliseconds default_value,
                       std::string help, std::chrono::milliseconds* target) {
  *target = default_value;
  Add({std::move(name), std::move(env), std::move(help),
       absl::FormatDuration(absl::Milliseconds(default_value.count())), false,
       [target](absl::string_view v, const std::string& source) {
         double seconds = 0;
         absl::Duration d;
         if (absl::SimpleAtod(v, &seconds) && seconds >= 0) {
           d = absl::Seconds(seconds);
         } else if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
           return Bad(source, v, "a duration such as 30s, 250ms or 1m");
         }
         *target = std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
         return absl::OkStatus();
       }});
}

void FlagSet::Bytes(std::string name, std::string env, std::size_t default_value, std::string help,
                    std::size_t* target) {
  *target = default_value;
  Add({std::move(name), std::move(env), std::move(help), absl::StrCat(default_value), false,
       [target](absl::string_view v, const std::string& source) {
         static const std::map<std::string, std::size_t> kUnits = {{"", 1},
                                                                   {"b", 1},
                                                                   {"kib", 1024},
                                                                   {"kb", 1000},
                                                                   {"mib", 1 << 20},
                                                                   {"mb", 1000000},
                                                                   {"gib", std::size_t(1) << 30}};
         std::size_t digits = 0;
         while (digits < v.size() && absl::ascii_isdigit(v[digits])) ++digits;
         std::uint64_t n = 0;
         auto unit =
             kUnits.find(absl::AsciiStrToLower(absl::StripAsciiWhitespace(v.substr(digits))));
         if (digits == 0 || !absl::SimpleAtoi(v.substr(0, digits), &n) || unit == kUnits.end()) {
           return Bad(source, v, "a size such as 1048576, 64KiB or 10MiB");
         }
         *target = static_cast<std::size_t>(n * unit->second);
         return absl::OkStatus();
       }});
}

void FlagSet::Int(std::string name, std::string env, int default_value, std::string help,
                  int* target) {
  *target = default_value;
  Add({std::move(name), std::move(env), std::move(help), absl::StrCat(default_value), false,
       [target](absl::string_view v, const std::string& source) {
         if (!absl::SimpleAtoi(v, target)) return Bad(source, v, "a whole number");
         return absl::OkStatus();
       }});
}

void FlagSet::Strings(std::string name, std::string env, std::string help,
                      std::vector<std::string>* target) {
  Flag f{std::move(name),
         std::move(env),
         std::move(help),
         "",
         false,
         [target, first = std::make_shared<bool>(true)](absl::string_view v, const std::string&) {
           // The first value given replaces what the target held; later ones add to it.
           if (*first) target->clear();
           *first = false;
           target->emplace_back(v);
           return absl::OkStatus();
         }};
  f.repeated = true;
  Add(std::move(f));
}

std::string FlagSet::Source(absl::string_view name) const {
  auto it = sources_.find(std::string(name));
  return it == sources_.end() ? "" : it->second;
}

absl::Status FlagSet::Parse(int argc, char** argv, std::vector<std::string>* args, bool* help) {
  *help = false;
  sources_.clear();
  std::map<std::string, std::vector<std::string>> given;  // name -> values, in order
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      if (args != nullptr) args->push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help" || a == "-help") {
      *help = true;
      return absl::OkStatus();
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (std::size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see ", program_, " --help)"));
    }
    if (!has_value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    given[name].push_back(value);
  }
  for (const Flag& f : flags_) {
    auto it = given.find(f.name);
    if (it != given.end()) {
      std::string source = "flag --" + f.name;
      // A repeated flag keeps every value; any other, the last one given.
      for (std::size_t i = f.repeated ? 0 : it->second.size() - 1; i < it->second.size(); ++i) {
        if (absl::Status s = f.set(it->second[i], source); !s.ok()) return s;
      }
      sources_[f.name] = source;
      continue;
    }
    const char* env = f.env.empty() ? nullptr : std::getenv(f.env.c_str());
    if (env != nullptr && *env != '\0') {
      std::string source = "variable " + f.env;
      if (absl::Status s = f.set(env, source); !s.ok()) return s;
      sources_[f.name] = source;
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat(program_, ": ", synopsis_, "\n\nflags:\n");
  for (const Flag& f : flags_) {
    absl::StrAppend(&out, "  --", f.name, f.is_bool ? "" : " value", "\n      ", f.help,
                    " (default ", f.default_text.empty() ? "\"\"" : f.default_text, ")",
                    f.env.empty() ? "" : absl::StrCat(", $", f.env), "\n");
  }
  return out;
}

}  // namespace micro

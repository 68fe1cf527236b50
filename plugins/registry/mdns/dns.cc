#include "dns.h"

#include <arpa/inet.h>

#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace micro::mdns {
namespace {

class Reader {
 public:
  explicit Reader(absl::string_view p) : p_(p) {}

  std::size_t offset() const { return off_; }
  std::size_t left() const { return p_.size() - off_; }
  void Seek(std::size_t off) { off_ = off; }

  bool U8(std::uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<std::uint8_t>(p_[off_++]);
    return true;
  }
  bool U16(std::uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<std::uint16_t>(Byte(off_) << 8 | Byte(off_ + 1));
    off_ += 2;
    return true;
  }
  bool U32(std::uint32_t* v) {
    std::uint16_t hi, lo;
    if (!U16(&hi) || !U16(&lo)) return false;
    *v = static_cast<std::uint32_t>(hi) << 16 | lo;
    return true;
  }
  bool Bytes(std::size_t n, std::string* out) {
    if (left() < n) return false;
    out->assign(p_.data() + off_, n);
    off_ += n;
    return true;
  }

  // A possibly compressed name. Each pointer must point below every position
  // this name has jumped to (or started at), so the walk always terminates.
  absl::Status Name(std::string* out) {
    out->clear();
    std::size_t pos = off_, limit = off_, total = 0;
    bool jumped = false;
    int jumps = 0;
    while (true) {
      if (pos >= p_.size()) return Error("name runs past the end of the packet");
      std::uint8_t len = Byte(pos);
      if ((len & 0xc0) == 0xc0) {
        if (pos + 1 >= p_.size()) return Error("truncated compression pointer");
        std::size_t target = static_cast<std::size_t>(len & 0x3f) << 8 | Byte(pos + 1);
        if (target >= limit) return Error("compression pointer does not point backwards");
        if (++jumps > kMaxPointerJumps) return Error("too many compression pointers");
        if (!jumped) off_ = pos + 2;
        jumped = true;
        limit = target;
        pos = target;
        continue;
      }
      if ((len & 0xc0) != 0) return Error("reserved label type");
      if (len == 0) {
        if (!jumped) off_ = pos + 1;
        break;
      }
      if (pos + 1 + len > p_.size()) return Error("label runs past the end of the packet");
      total += len + 1;
      if (total > kMaxNameLength) return Error("name longer than 255 bytes");
      // A '.' or '\\' inside a label is escaped, so the dotted form stays unambiguous.
      for (std::size_t i = 0; i < len; ++i) {
        char c = p_[pos + 1 + i];
        if (c == '.' || c == '\\') out->push_back('\\');
        out->push_back(c);
      }
      out->push_back('.');
      pos += 1 + len;
    }
    if (out->empty()) *out = ".";
    return absl::OkStatus();
  }

  static absl::Status Error(absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("dns: ", why));
  }

 private:
  std::uint8_t Byte(std::size_t i) const { return static_cast<std::uint8_t>(p_[i]); }
  absl::string_view p_;
  std::size_t off_ = 0;
};

absl::Status ParseQuestion(Reader& r, Question* q) {
  if (absl::Status s = r.Name(&q->name); !s.ok()) return s;
  std::uint16_t klass;
  if (!r.U16(&q->type) || !r.U16(&klass)) return Reader::Error("truncated question");
  q->unicast_response = (klass & 0x8000) != 0;
  q->klass = klass & 0x7fff;
  return absl::OkStatus();
}

absl::Status ParseRecord(Reader& r, Record* rec) {
  if (absl::Status s = r.Name(&rec->name); !s.ok()) return s;
  std::uint16_t klass, rdlength;
  if (!r.U16(&rec->type) || !r.U16(&klass) || !r.U32(&rec->ttl) || !r.U16(&rdlength)) {
    return Reader::Error("truncated record header");
  }
  rec->cache_flush = (klass & 0x8000) != 0;
  rec->klass = klass & 0x7fff;
  if (r.left() < rdlength) return Reader::Error("record data runs past the end of the packet");
  std::size_t end = r.offset() + rdlength;
  switch (rec->type) {
    case kTypeA:
    case kTypeAAAA: {
      std::size_t n = rec->type == kTypeA ? 4 : 16;
      if (rdlength != n)
        return Reader::Error(absl::StrCat("address record of ", rdlength, " bytes"));
      std::string bytes;
      r.Bytes(n, &bytes);
      std::memcpy(rec->address.data(), bytes.data(), n);
      break;
    }
    case kTypePTR:
      if (absl::Status s = r.Name(&rec->target); !s.ok()) return s;
      break;
    case kTypeSRV:
      if (!r.U16(&rec->priority) || !r.U16(&rec->weight) || !r.U16(&rec->port)) {
        return Reader::Error("truncated SRV record");
      }
      if (absl::Status s = r.Name(&rec->target); !s.ok()) return s;
      break;
    case kTypeTXT:
      while (r.offset() < end) {
        std::uint8_t len = 0;
        std::string s;
        if (!r.U8(&len)) return Reader::Error("truncated TXT record");
        if (r.offset() + len > end || !r.Bytes(len, &s))
          return Reader::Error("TXT string runs past its record");
        rec->txt.push_back(std::move(s));
      }
      break;
    default:
      r.Bytes(rdlength, &rec->raw);
  }
  if (r.offset() != end) return Reader::Error("record data length does not match its content");
  return absl::OkStatus();
}

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::uint32_t v) {
    U16(static_cast<std::uint16_t>(v >> 16));
    U16(static_cast<std::uint16_t>(v));
  }
  void Raw(absl::string_view s) { out_.append(s.data(), s.size()); }

  // Writes `name` (dotted, with "\\." and "\\\\" escapes inside labels), reusing
  // any suffix already written (RFC 1035 4.1.4). Empty labels are skipped.
  void Name(absl::string_view name) {
    std::vector<std::string> labels;  // unescaped
    std::vector<std::size_t> starts;  // where each label starts in `name`
    std::string label;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
      if (i == name.size() || name[i] == '.') {
        if (!label.empty()) {
          labels.push_back(std::move(label));
          starts.push_back(start);
        }
        label.clear();
        start = i + 1;
      } else if (name[i] == '\\' && i + 1 < name.size()) {
        label.push_back(name[++i]);
      } else {
        label.push_back(name[i]);
      }
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      std::string suffix = absl::AsciiStrToLower(name.substr(starts[i]));
      if (suffix.back() != '.') suffix.push_back('.');
      auto it = suffixes_.find(suffix);
      if (it != suffixes_.end()) {
        U16(static_cast<std::uint16_t>(0xc000 | it->second));
        return;
      }
      if (out_.size() < 0x3fff) suffixes_.emplace(suffix, out_.size());
      absl::string_view l = absl::string_view(labels[i]).substr(0, 63);
      U8(static_cast<std::uint8_t>(l.size()));
      Raw(l);
    }
    U8(0);
  }

  void Record(const mdns::Record& r) {
    Name(r.name);
    U16(r.type);
    U16(static_cast<std::uint16_t>(r.klass | (r.cache_flush ? 0x8000 : 0)));
    U32(r.ttl);
    std::size_t len_at = out_.size();
    U16(0);
    std::size_t start = out_.size();
    switch (r.type) {
      case kTypeA:
        Raw(absl::string_view(reinterpret_cast<const char*>(r.address.data()), 4));
        break;
      case kTypeAAAA:
        Raw(absl::string_view(reinterpret_cast<const char*>(r.address.data()), 16));
        break;
      case kTypePTR:
        Name(r.target);
        break;
      case kTypeSRV:
        U16(r.priority);
        U16(r.weight);
        U16(r.port);
        Name(r.target);
        break;
      case kTypeTXT:
        for (const std::string& s : r.txt) {
          absl::string_view v = absl::string_view(s).substr(0, 255);
          U8(static_cast<std::uint8_t>(v.size()));
          Raw(v);
        }
        break;
      default:
        Raw(r.raw);
    }
    std::size_t len = out_.size() - start;
    out_[len_at] = static_cast<char>(len >> 8);
    out_[len_at + 1] = static_cast<char>(len);
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::map<std::string, std::size_t> suffixes_;
};

}  // namespace

absl::StatusOr<Message> Parse(absl::string_view packet) {
  Reader r(packet);
  Message m;
  std::uint16_t counts[4];
  if (!r.U16(&m.id) || !r.U16(&m.flags)) return Reader::Error("packet shorter than a DNS header");
  for (auto& c : counts) {
    if (!r.U16(&c)) return Reader::Error("packet shorter than a DNS header");
  }
  // A question takes at least 5 bytes, a record at least 11: refuse counts the
  // packet cannot hold before reserving anything.
  std::size_t least =
      std::size_t{counts[0]} * 5 + (std::size_t{counts[1]} + counts[2] + counts[3]) * 11;
  if (least > r.left()) return Reader::Error("section counts exceed the packet");
  m.questions.resize(counts[0]);
  for (Question& q : m.questions) {
    if (absl::Status s = ParseQuestion(r, &q); !s.ok()) return s;
  }
  std::vector<Record>* sections[] = {&m.answers, &m.authorities, &m.additionals};
  for (int i = 0; i < 3; ++i) {
    sections[i]->resize(counts[i + 1]);
    for (Record& rec : *sections[i]) {
      if (absl::Status s = ParseRecord(r, &rec); !s.ok()) return s;
    }
  }
  return m;
}

std::string Serialize(const Message& m) {
  Writer w;
  w.U16(m.id);
  w.U16(m.flags);
  w.U16(static_cast<std::uint16_t>(m.questions.size()));
  w.U16(static_cast<std::uint16_t>(m.answers.size()));
  w.U16(static_cast<std::uint16_t>(m.authorities.size()));
  w.U16(static_cast<std::uint16_t>(m.additionals.size()));
  for (const Question& q : m.questions) {
    w.Name(q.name);
    w.U16(q.type);
    w.U16(static_cast<std::uint16_t>(q.klass | (q.unicast_response ? 0x8000 : 0)));
  }
  for (const auto* section : {&m.answers, &m.authorities, &m.additionals}) {
    for (const Record& r : *section) w.Record(r);
  }
  return w.Take();
}

bool NameEquals(absl::string_view a, absl::string_view b) {
  if (!a.empty() && a.back() == '.') a.remove_suffix(1);
  if (!b.empty() && b.back() == '.') b.remove_suffix(1);
  return absl::EqualsIgnoreCase(a, b);
}

bool SetAddress(absl::string_view ip, Record* record) {
  std::string s(ip);
  if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (inet_pton(AF_INET, s.c_str(), record->address.data()) == 1) {
    record->type = kTypeA;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), record->address.data()) == 1) {
    record->type = kTypeAAAA;
    return true;
  }
  return false;
}

std::string AddressString(const Record& record) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(record.type == kTypeA ? AF_INET : AF_INET6, record.address.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace micro::mdns

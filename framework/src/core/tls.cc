// micro::tls::Check and Describe: the files read with OpenSSL, problems said in words.
#include "micro/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace micro::tls {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tls: ", what));
}

absl::Status ReadFile(const std::string& path, const char* what, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Bad(
        absl::StrCat("cannot read the ", what, " file \"", path, "\": ", std::strerror(errno)));
  }
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return absl::OkStatus();
}

std::string TimeText(const ASN1_TIME* t) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), t);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Every certificate in a PEM file.
absl::Status ReadCerts(const std::string& path, const char* what, std::vector<X509Ptr>* out) {
  std::string pem;
  if (absl::Status s = ReadFile(path, what, &pem); !s.ok()) return s;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out->emplace_back(x);
  ERR_clear_error();
  if (out->empty()) {
    return Bad(absl::StrCat("the ", what, " file \"", path, "\" holds no PEM certificate"));
  }
  return absl::OkStatus();
}

// Expired or not yet valid, in words; OK otherwise.
absl::Status Validity(X509* x, const std::string& path, const char* what) {
  if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
    return Bad(absl::StrCat("the ", what, " in \"", path, "\" has expired (not valid after ",
                            TimeText(X509_get0_notAfter(x)), ")"));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
    return Bad(absl::StrCat("the ", what, " in \"", path, "\" is not valid yet (not before ",
                            TimeText(X509_get0_notBefore(x)), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(const Options& o) {
  std::vector<X509Ptr> chain;
  if (absl::Status s = ReadCerts(o.cert_file, "certificate", &chain); !s.ok()) return s;
  if (absl::Status s = Validity(chain.front().get(), o.cert_file, "certificate"); !s.ok()) return s;
  std::string pem;
  if (absl::Status s = ReadFile(o.key_file, "key", &pem); !s.ok()) return s;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No passphrase callback: an encrypted key fails here rather than prompting on a terminal.
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return Bad(absl::StrCat("the key file \"", o.key_file,
                            "\" holds no PEM private key (or an encrypted one)"));
  }
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return Bad(absl::StrCat("the key in \"", o.key_file,
                            "\" is not the key of the certificate in \"", o.cert_file, "\""));
  }
  return absl::OkStatus();
}

absl::Status CheckCa(const std::string& path) {
  std::vector<X509Ptr> cas;
  if (absl::Status s = ReadCerts(path, "CA", &cas); !s.ok()) return s;
  for (const X509Ptr& ca : cas) {
    if (Validity(ca.get(), path, "CA certificate").ok()) return absl::OkStatus();
  }
  return Validity(cas.front().get(), path, "CA certificate");
}

}  // namespace

absl::Status Check(const Options& o, Side side) {
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Bad(o.cert_file.empty()
                   ? "a key (tls_key) was given without its certificate (tls_cert)"
                   : "a certificate (tls_cert) was given without its key (tls_key)");
  }
  if (side == Side::kServer) {
    if (!o.server_enabled()) {
      if (o.client_auth)
        return Bad("client_auth needs a server certificate and key (tls_cert, tls_key)");
      return absl::OkStatus();
    }
    if (o.client_auth && o.ca_file.empty()) {
      return Bad("client_auth needs a CA (tls_ca) to verify client certificates against");
    }
  } else if (!o.client_enabled()) {
    return absl::OkStatus();
  }
  if (o.reload_interval.count() <= 0) return Bad("reload_interval must be positive");
  if (!o.cert_file.empty()) {
    if (absl::Status s = CheckIdentity(o); !s.ok()) return s;
  }
  if (!o.ca_file.empty()) {
    if (absl::Status s = CheckCa(o.ca_file); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string Describe(const Options& o, Side side) {
  if (side == Side::kServer) {
    if (!o.server_enabled()) return "plain text";
    return o.client_auth ? "TLS (mutual: client certificates required)" : "TLS";
  }
  if (!o.client_enabled()) return "plain text";
  std::string d = o.cert_file.empty() ? "TLS" : "TLS with a client certificate";
  if (o.allow_plaintext) d += ", plain text to nodes that register secure=false";
  return d;
}

}  // namespace micro::tls

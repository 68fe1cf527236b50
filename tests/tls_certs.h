// Test helper: real X.509 certificates made with OpenSSL, written as PEM files: CAs, server and
// client certificates with chosen names and validity (expired ones too).
#pragma once

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace micro::testing {

class Cert {
 public:
  Cert() = default;
  Cert(Cert&&) = default;
  Cert& operator=(Cert&&) = default;

  // A self-signed CA.
  static Cert Ca(const std::string& cn) { return Make(cn, "", nullptr, 0, 3650 * 86400L, true); }
  // A leaf signed by `ca`, for `sans` ("DNS:localhost,IP:127.0.0.1"), valid from now+from_s to
  // now+until_s (negative: in the past).
  static Cert Leaf(const Cert& ca, const std::string& cn, const std::string& sans,
                   long from_s = -3600, long until_s = 86400) {
    return Make(cn, sans, &ca, from_s, until_s, false);
  }

  // Writes cert and key PEM files "<prefix>.crt" and "<prefix>.key"; returns the prefix.
  std::string Write(const std::string& prefix) const {
    WritePem(prefix + ".crt", [&](FILE* f) { return PEM_write_X509(f, cert_.get()); });
    WritePem(prefix + ".key", [&](FILE* f) {
      return PEM_write_PrivateKey(f, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return prefix;
  }

 private:
  struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
  };
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };

  template <typename F>
  static void WritePem(const std::string& path, F write) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr || write(f) != 1) throw std::runtime_error("cannot write " + path);
    std::fclose(f);
  }

  static void Ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  static Cert Make(const std::string& cn, const std::string& sans, const Cert* ca, long from_s,
                   long until_s, bool is_ca) {
    Cert c;
    c.key_.reset(EVP_EC_gen("P-256"));
    c.cert_.reset(X509_new());
    X509* x = c.cert_.get();
    X509_set_version(x, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x),
                     serial++ + static_cast<long>(time(nullptr) % 100000) * 1000);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), until_s);
    X509_set_pubkey(x, c.key_.get());
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* issuer = ca != nullptr ? ca->cert_.get() : x;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    if (is_ca) {
      Ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
      Ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      Ext(x, issuer, NID_basic_constraints, "CA:FALSE");
      Ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
      if (!sans.empty()) Ext(x, issuer, NID_subject_alt_name, sans);
    }
    EVP_PKEY* signer = ca != nullptr ? ca->key_.get() : c.key_.get();
    if (X509_sign(x, signer, EVP_sha256()) == 0) throw std::runtime_error("cannot sign " + cn);
    return c;
  }

  std::unique_ptr<X509, X509Free> cert_;
  std::unique_ptr<EVP_PKEY, KeyFree> key_;
};

}  // namespace micro::testing

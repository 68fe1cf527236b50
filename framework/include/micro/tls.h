// TLS and mutual TLS between services (and towards the gateway's clients).
//
// One set of files serves both sides of a process: a server presents `cert_file`/`key_file` and,
// with `client_auth`, requires client certificates signed by `ca_file`; a client verifies servers
// against `ca_file` (the system's roots when empty) and presents `cert_file`/`key_file` when set,
// as mTLS servers require. Files are PEM. They are re-read every `reload_interval`: a renewed
// certificate takes effect for new connections without a restart (connections already open keep
// the one they shook hands with).
//
// Which nodes a client reaches over TLS: a server registers `secure=true` (TLS) or `secure=false`
// (plain text) in its node metadata. A client with TLS uses it for `secure=true` nodes and for
// nodes that say nothing (go-micro nodes, whose own TLS option advertises nothing); it skips
// `secure=false` nodes unless `allow_plaintext`. A client without TLS skips `secure=true` nodes.
// A skipped node costs no connection attempt; when every node is skipped the call fails with a
// message that says why.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/status.h"

namespace micro::tls {

struct Options {
  std::string cert_file;  // certificate chain (PEM): the server's; a client's for mTLS
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA bundle (PEM) peers are verified against; empty: system roots
  // Server: require a client certificate, verified against ca_file (mutual TLS).
  bool client_auth = false;
  // Client: the name servers' certificates must carry; empty: the node's registered host.
  std::string server_name;
  // Client with TLS: also call nodes that register secure=false, in plain text (a migration aid).
  bool allow_plaintext = false;
  std::chrono::seconds reload_interval{60};  // how often the files are checked for changes

  // A server serves TLS when it has a certificate and key.
  bool server_enabled() const { return !cert_file.empty() && !key_file.empty(); }
  // A client uses TLS when it has a CA or a certificate of its own.
  bool client_enabled() const { return !ca_file.empty() || server_enabled(); }
};

enum class Side { kServer, kClient };

// Checks the files the way a handshake will need them (reads them; thread-safe), and says what is
// wrong in words: a path that cannot be read, a file that holds no PEM certificate or key, a key
// that is not the certificate's, a certificate that has expired or is not yet valid, client_auth
// without a CA, a key without a certificate. OK when `side` does not use TLS.
absl::Status Check(const Options& options, Side side);

// For logs: "tls (mTLS, client certificates required)", "tls", "plain text".
std::string Describe(const Options& options, Side side);

}  // namespace micro::tls

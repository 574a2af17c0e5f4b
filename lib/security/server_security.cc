// ServerSecurity: see server_security.h.
#include "lib/security/server_security.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace streammetrics::security {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::StatusOr<Bio> Open(const std::string& path, absl::string_view flag) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path,
                                                   " (missing, or not readable by this user)"));
  }
  return bio;
}

absl::StatusOr<Cert> ReadCertificate(const std::string& path, absl::string_view flag) {
  absl::StatusOr<Bio> bio = Open(path, flag);
  if (!bio.ok()) return bio.status();
  Cert cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path,
                     " holds no PEM certificate (\"-----BEGIN CERTIFICATE"
                     "-----\")"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": the certificate in ", path, " has expired: renew it"));
  }
  return cert;
}

}  // namespace

void AddServerSecurityFlags(ConfigLoader* loader, ServerSecurityConfig* c) {
  loader->String("tls_cert_file", &c->tls_cert_file,
                 "PEM certificate chain to serve TLS with (with --tls_key_file).");
  loader->String("tls_key_file", &c->tls_key_file, "PEM private key of --tls_cert_file.");
  loader->String("tls_client_ca_file", &c->tls_client_ca_file,
                 "PEM CA bundle: clients must present a certificate it signed (mutual TLS).");
  loader->Duration("tls_reload_interval", &c->tls_reload_interval,
                   "How often the TLS files are re-read.");
  loader->String("auth_tokens_file", &c->auth_tokens_file,
                 "Bearer tokens file (SHA-256 hashes, names, scopes); unset: no tokens asked.");
  loader->Duration("auth_tokens_reload_interval", &c->auth_tokens_reload_interval,
                   "How often the tokens file is checked for changes.");
  loader->Bool("allow_insecure", &c->allow_insecure,
               "Listen beyond loopback without TLS and tokens or client certificates.");
  loader->Bool("allow_exposed_metrics", &c->allow_exposed_metrics,
               "Serve /metrics (plain HTTP, no authentication) beyond loopback.");
}

absl::Status CheckServerSecurity(absl::string_view address, const ServerSecurityConfig& c) {
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together: set both for TLS, or neither");
  }
  if (!c.tls_client_ca_file.empty() && !c.tls()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file needs TLS: set --tls_cert_file and --tls_key_file too");
  }
  if (c.tls_reload_interval < absl::Seconds(1) ||
      c.auth_tokens_reload_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--tls_reload_interval must be at least 1s and --auth_tokens_reload_interval above 0");
  }
  // Mutual TLS identifies every caller by its certificate, as a token would.
  const bool callers_known = c.tokens() || !c.tls_client_ca_file.empty();
  if (IsLoopbackAddress(address) || c.allow_insecure || (c.tls() && callers_known)) {
    return absl::OkStatus();
  }
  std::vector<std::string> missing;
  if (!c.tls()) missing.push_back("--tls_cert_file and --tls_key_file");
  if (!callers_known) missing.push_back("--auth_tokens_file (or --tls_client_ca_file)");
  return absl::FailedPreconditionError(absl::StrCat(
      address,
      " can be reached from other hosts, so it is served only with TLS and bearer "
      "tokens or client certificates: set ",
      absl::StrJoin(missing, " and "),
      " (docs/security.md), listen on 127.0.0.1, or pass --allow_insecure=true to serve it "
      "unprotected on purpose"));
}

absl::Status CheckMetricsExposure(absl::string_view metrics_address,
                                  const ServerSecurityConfig& c) {
  // The HTTP server (civetweb) listens on every item of a comma-separated list, so a list could
  // hide an exposed address behind a loopback one.
  if (absl::StrContains(metrics_address, ',')) {
    return absl::InvalidArgumentError(
        absl::StrCat("/metrics address ", metrics_address, " is a list: give one host:port"));
  }
  if (IsLoopbackAddress(metrics_address) || c.allow_exposed_metrics) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "/metrics on ", metrics_address,
      " would be reachable from other hosts over plain HTTP without authentication: pass "
      "--allow_exposed_metrics=true if that is intended (a private network a Prometheus scrapes), "
      "or listen on 127.0.0.1"));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityConfig& c) {
  if (!c.tls()) return grpc::InsecureServerCredentials();
  absl::StatusOr<Cert> cert = ReadCertificate(c.tls_cert_file, "tls_cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<Bio> key_bio = Open(c.tls_key_file, "tls_key_file");
  if (!key_bio.ok()) return key_bio.status();
  Key key(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key_file: ", c.tls_key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_key_file: the key in ", c.tls_key_file,
                                                   " does not belong to the certificate in ",
                                                   c.tls_cert_file));
  }
  if (!c.tls_client_ca_file.empty()) {
    absl::StatusOr<Cert> ca = ReadCertificate(c.tls_client_ca_file, "tls_client_ca_file");
    if (!ca.ok()) return ca.status();
  }
  const auto interval = static_cast<unsigned int>(absl::ToInt64Seconds(c.tls_reload_interval));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      c.tls_key_file, c.tls_cert_file, c.tls_client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (c.tls_client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace streammetrics::security

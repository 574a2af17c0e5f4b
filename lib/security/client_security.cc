// ClientSecurity: see client_security.h.
#include "lib/security/client_security.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "lib/security/loopback.h"

namespace streammetrics::security {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", path, " holds no PEM block"));
  }
  return text.str();
}

}  // namespace

void AddClientSecurityFlags(ConfigLoader* loader, ClientSecurityConfig* c) {
  loader->String("tls_ca_file", &c->tls_ca_file,
                 "PEM CA that signed the server's certificate; set: connect with TLS.");
  loader->String("tls_client_cert_file", &c->tls_client_cert_file,
                 "PEM client certificate, for servers that require mutual TLS.");
  loader->String("tls_client_key_file", &c->tls_client_key_file,
                 "PEM key of --tls_client_cert_file.");
  loader->String("tls_server_name", &c->tls_server_name,
                 "Name to expect in the server's certificate, if not the target's host.");
  loader->Secret("token", &c->token, "bearer token sent with every call");
  loader->Bool("allow_insecure", &c->allow_insecure,
               "Send --token without TLS to a server beyond loopback (readable on the way).");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientSecurityConfig& c,
                                                           grpc::ChannelArguments args) {
  if (c.tls_client_cert_file.empty() != c.tls_client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_cert_file and --tls_client_key_file go together");
  }
  if (!c.tls()) {
    if (!c.tls_client_cert_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs TLS: set --tls_ca_file too");
    }
    if (!c.token.empty() && !c.allow_insecure && !IsLoopbackTarget(target)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a bearer token would cross the network in plaintext to ", target,
          ": set --tls_ca_file to connect with TLS, or pass --allow_insecure=true on purpose"));
    }
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadPem(c.tls_ca_file, "tls_ca_file");
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *std::move(ca);
  if (!c.tls_client_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(c.tls_client_cert_file, "tls_client_cert_file");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(c.tls_client_key_file, "tls_client_key_file");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!c.tls_server_name.empty()) args.SetSslTargetNameOverride(c.tls_server_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

void AddCallCredentials(const ClientSecurityConfig& c, grpc::ClientContext* context) {
  if (!c.token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", c.token));
}

}  // namespace streammetrics::security

// TestPki: a throwaway certificate authority for TLS tests, made with OpenSSL's C API in a
// temporary directory: a CA, server certificates for localhost / 127.0.0.1, and client
// certificates, each written as PEM files the services and clients read.
#ifndef STREAMMETRICS_TESTS_SUPPORT_TEST_PKI_H_
#define STREAMMETRICS_TESTS_SUPPORT_TEST_PKI_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace streammetrics::testing {

struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (unencrypted)
};

class TestPki {
 public:
  // Creates a CA (common name `ca_name`) under a new directory of `parent` (TMPDIR when empty).
  static absl::StatusOr<std::unique_ptr<TestPki>> Create(const std::string& ca_name = "test-ca",
                                                         const std::string& parent = "");
  ~TestPki();  // deletes the directory

  // The CA's certificate (what clients and servers trust).
  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }

  // A certificate signed by this CA for `common_name`, valid from now for `validity`, with
  // subjectAltNames DNS:localhost and IP:127.0.0.1 (server use) and extended key usage for both
  // server and client authentication. Written to <dir>/<file_stem>.{crt,key}.
  absl::StatusOr<CertFiles> Issue(const std::string& common_name, const std::string& file_stem,
                                  absl::Duration validity = absl::Hours(24));

 private:
  struct Keys;
  TestPki(std::string dir, std::unique_ptr<Keys> keys);
  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Keys> keys_;
  long serial_ = 1;
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_TEST_PKI_H_

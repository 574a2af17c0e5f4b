// TestPki: see test_pki.h.
#include "tests/support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace streammetrics::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

absl::Status Fail(absl::string_view what) {
  return absl::InternalError(absl::StrCat("TestPki: ", what, " failed"));
}

Key NewKey() { return Key(EVP_EC_gen("P-256")); }

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, signed by `issuer_key` (issuer_cert null: self-signed).
Cert MakeCert(EVP_PKEY* key, const std::string& cn, EVP_PKEY* issuer_key, X509* issuer_cert,
              long serial, absl::Duration validity, bool ca) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  // Valid from a minute ago: clocks of the test and the TLS stack agree to the second anyway.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(validity));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  bool ok = true;
  if (ca) {
    ok &= AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    ok &= AddExtension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    ok &= AddExtension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  } else {
    ok &= AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    ok &= AddExtension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
    ok &= AddExtension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    ok &= AddExtension(cert.get(), issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    ok &= AddExtension(cert.get(), issuer, NID_authority_key_identifier, "keyid");
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

absl::Status WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Fail(absl::StrCat("opening ", path));
  const bool ok = cert != nullptr
                      ? PEM_write_X509(f, cert) == 1
                      : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  return ok ? absl::OkStatus() : Fail(absl::StrCat("writing ", path));
}

}  // namespace

struct TestPki::Keys {
  Key ca_key;
  Cert ca_cert;
};

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create(const std::string& ca_name,
                                                         const std::string& parent) {
  std::string base = parent;
  if (base.empty()) base = std::filesystem::temp_directory_path().string();
  std::string tmpl = base + "/streammetrics-pki-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Fail("mkdtemp");
  auto keys = std::make_unique<Keys>();
  keys->ca_key = NewKey();
  if (keys->ca_key == nullptr) return Fail("CA key generation");
  keys->ca_cert = MakeCert(keys->ca_key.get(), ca_name, keys->ca_key.get(), nullptr, 1,
                           absl::Hours(48), /*ca=*/true);
  if (keys->ca_cert == nullptr) return Fail("CA certificate");
  std::unique_ptr<TestPki> pki(new TestPki(tmpl, std::move(keys)));
  if (absl::Status s = WritePem(pki->ca_file_, pki->keys_->ca_cert.get(), nullptr); !s.ok()) {
    return s;
  }
  return pki;
}

TestPki::TestPki(std::string dir, std::unique_ptr<Keys> keys)
    : dir_(std::move(dir)), ca_file_(dir_ + "/ca.crt"), keys_(std::move(keys)) {}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<CertFiles> TestPki::Issue(const std::string& common_name,
                                         const std::string& file_stem, absl::Duration validity) {
  Key key = NewKey();
  if (key == nullptr) return Fail("key generation");
  Cert cert = MakeCert(key.get(), common_name, keys_->ca_key.get(), keys_->ca_cert.get(), ++serial_,
                       validity, /*ca=*/false);
  if (cert == nullptr) return Fail("certificate");
  CertFiles files{absl::StrCat(dir_, "/", file_stem, ".crt"),
                  absl::StrCat(dir_, "/", file_stem, ".key")};
  if (absl::Status s = WritePem(files.cert, cert.get(), nullptr); !s.ok()) return s;
  if (absl::Status s = WritePem(files.key, nullptr, key.get()); !s.ok()) return s;
  return files;
}

}  // namespace streammetrics::testing

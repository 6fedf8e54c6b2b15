// The fake Ometria over TLS, as the tests of the real binary deliver to it: a test CA of its own (make_test_pki,
// written into the test's folder), the fake serving that CA's certificate for 127.0.0.1, and the "ometria"
// section of the binary's config that points at it and trusts the CA (no allow_plain_http). One home for the
// setup those tests shared; a FakeOmetria in every other respect (script it, read what it received).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "fake_ometria.hpp"

namespace omt::testing {

class TlsFakeOmetria : public FakeOmetria {
 public:
  // options as for FakeOmetria (keys, threads, on_push...); its TLS fields are set here. dir must exist.
  TlsFakeOmetria(const std::string& dir, FakeOmetriaOptions options)
      : TlsFakeOmetria(make_test_pki(dir), std::move(options)) {}

  const TestPki& pki() const { return pki_; }

  // {"endpoint": the fake's https URL, "extra_ca_file": the test CA}, with the members of `more` added
  // (e.g. {"max_in_flight": 4}).
  nlohmann::json ometria_config(nlohmann::json more = nlohmann::json::object()) const {
    nlohmann::json section = {{"endpoint", url()}, {"extra_ca_file", pki_.ca_file}};
    section.update(more);
    return section;
  }

 private:
  TlsFakeOmetria(TestPki pki, FakeOmetriaOptions options)
      : FakeOmetria(serving_tls(std::move(options), pki)), pki_(std::move(pki)) {}

  static FakeOmetriaOptions serving_tls(FakeOmetriaOptions options, const TestPki& pki) {
    options.tls = true;
    options.cert_file = pki.server_cert_file;
    options.key_file = pki.server_key_file;
    return options;
  }

  TestPki pki_;
};

}  // namespace omt::testing

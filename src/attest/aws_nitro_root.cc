#include "src/attest/aws_nitro_root.h"

#include <cstdlib>

#include "src/attest/certificate.h"

namespace lockout::attest {

const Bytes& AwsNitroRootG1Der() {
  static const Bytes* der = [] {
    absl::StatusOr<std::vector<Bytes>> certs = CertificatesFromPem(kAwsNitroRootG1Pem);
    if (!certs.ok() || certs->size() != 1) std::abort();  // the embedded constant is broken
    return new Bytes(std::move(certs->front()));
  }();
  return *der;
}

}  // namespace lockout::attest

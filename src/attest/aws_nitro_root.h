#pragma once

// The AWS Nitro Enclaves root certificate (G1) for the commercial AWS partitions, embedded so
// verification needs no file. It is public: published at
// https://docs.aws.amazon.com/enclaves/latest/user/verify-root.html
// (AWS_NitroEnclaves_Root-G1.zip); subject CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US, valid
// 2019-10-28..2049-10-28, DER SHA-256
// 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b (checked in tests).

#include <string_view>

#include "src/common/bytes.h"

namespace lockout::attest {

inline constexpr std::string_view kAwsNitroRootG1Pem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----\n";

// The DER encoding of kAwsNitroRootG1Pem. Thread-safe.
const Bytes& AwsNitroRootG1Der();

}  // namespace lockout::attest

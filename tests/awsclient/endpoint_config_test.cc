#include "src/awsclient/endpoint_config.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout::awsclient {
namespace {

TEST(EndpointUrlTest, HttpsUrlWithoutPortUses443AndRootPath) {
  absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse("https://kms.us-east-1.amazonaws.com");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->tls());
  EXPECT_EQ(url->host(), "kms.us-east-1.amazonaws.com");
  EXPECT_EQ(url->port(), 443);
  EXPECT_EQ(url->path(), "/");
  EXPECT_FALSE(url->host_is_ip_literal());
  EXPECT_EQ(url->HostHeader(), "kms.us-east-1.amazonaws.com");
  EXPECT_EQ(url->ToString(), "https://kms.us-east-1.amazonaws.com/");
}

TEST(EndpointUrlTest, HttpUrlWithPortKeepsPortInHostHeader) {
  absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse("http://127.0.0.1:4566/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_FALSE(url->tls());
  EXPECT_EQ(url->host(), "127.0.0.1");
  EXPECT_TRUE(url->host_is_ip_literal());
  EXPECT_EQ(url->port(), 4566);
  EXPECT_EQ(url->HostHeader(), "127.0.0.1:4566");
}

TEST(EndpointUrlTest, DefaultPortSpelledOutIsLeftOutOfHostHeader) {
  absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse("https://kms.eu-west-1.amazonaws.com:443");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->HostHeader(), "kms.eu-west-1.amazonaws.com");
}

TEST(EndpointUrlTest, BracketedIpv6LiteralIsAHostWithoutBrackets) {
  absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse("http://[::1]:8080/aws/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host(), "::1");
  EXPECT_TRUE(url->host_is_ip_literal());
  EXPECT_EQ(url->HostHeader(), "[::1]:8080");
  EXPECT_EQ(url->path(), "/aws/");
  EXPECT_EQ(url->ToString(), "http://[::1]:8080/aws/");
}

TEST(EndpointUrlTest, CanonicalFormParsesBackToTheSameUrl) {
  for (const char* text : {"https://kms.us-east-1.amazonaws.com/", "http://localhost:1/x/y",
                           "http://[2001:db8::1]/", "https://10.0.0.1:8443/"}) {
    absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse(text);
    ASSERT_TRUE(url.ok()) << text << ": " << url.status();
    absl::StatusOr<EndpointUrl> again = EndpointUrl::Parse(url->ToString());
    ASSERT_TRUE(again.ok()) << url->ToString();
    EXPECT_EQ(again->ToString(), url->ToString());
  }
}

TEST(EndpointUrlTest, RejectsMalformedUrls) {
  for (const char* text : {
           "",
           "kms.us-east-1.amazonaws.com",
           "ftp://host/",
           "HTTPS://host/",
           "https://",
           "https:///path",
           "https://user:pw@host/",
           "https://host/?q=1",
           "https://host/#frag",
           "https://host:/",
           "https://host:0/",
           "https://host:65536/",
           "https://host:080/",
           "https://host:8x/",
           "https://host:-1/",
           "https://::1/",
           "https://[::1/",
           "https://[::1]x/",
           "https://[127.0.0.1]/",
           "https://ho st/",
           "https://-host/",
           "https://host/a b",
           "https://host/%zz",
           "https://host/%4",
           "https://1.2.3/",
       }) {
    absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse(text);
    EXPECT_FALSE(url.ok()) << "accepted \"" << text << "\"";
    if (!url.ok()) {
      EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(EndpointUrlTest, EveryPrefixOfAValidUrlParsesOrFailsCleanly) {
  const std::string full = "https://[2001:db8::7]:8443/prefix/path%20x";
  for (size_t n = 0; n <= full.size(); ++n) {
    absl::StatusOr<EndpointUrl> url = EndpointUrl::Parse(full.substr(0, n));
    if (url.ok()) {
      EXPECT_EQ(EndpointUrl::Parse(url->ToString())->ToString(), url->ToString());
    }
  }
}

TEST(EndpointConfigTest, ConnectsToUrlHostWithoutConnectVia) {
  absl::StatusOr<EndpointConfig> config = EndpointConfig::FromUrl("http://localhost:4566");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ConnectEndpoint().ToString(), "tcp://localhost:4566");
  EXPECT_EQ(config->ca_bundle_path, kDefaultCaBundlePath);
  EXPECT_EQ(config->ToString(), "http://localhost:4566/");
}

TEST(EndpointConfigTest, ConnectViaOverridesTheSocketButNotTheUrl) {
  absl::StatusOr<EndpointConfig> config = EndpointConfig::FromUrl(
      "https://kms.us-east-1.amazonaws.com", net::Endpoint::Vsock(3, 8000), "/tmp/ca.pem");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ConnectEndpoint().ToString(), "vsock://3:8000");
  EXPECT_EQ(config->url.HostHeader(), "kms.us-east-1.amazonaws.com");
  EXPECT_EQ(config->ca_bundle_path, "/tmp/ca.pem");
  EXPECT_EQ(config->ToString(), "https://kms.us-east-1.amazonaws.com/ via vsock://3:8000");
}

}  // namespace
}  // namespace lockout::awsclient

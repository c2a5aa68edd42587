#include "src/signpolicy/signing_policy.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/bytes.h"
#include "src/common/encoding.h"
#include "src/crypto/ec_private_key.h"
#include "src/crypto/hash.h"
#include "src/signer/signer.h"

namespace lockout::signpolicy {
namespace {

// RFC 8032 §7.1 test 1's public key, and the P-256 base point G (SEC 2 §2.4.2) uncompressed.
constexpr char kEd[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kP256[] =
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

// The worked example of docs/PROTOCOL.md, "Signing policy": keep the two in step.
constexpr char kDocExample[] = R"({"version": 1,
 "clients": [{"name": "gateway", "algorithm": "ed25519",
              "public_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
              "ops": ["sign", "public_key"], "keys": ["*"]}]})";
constexpr char kDocCanonical[] =
    R"({"version":1,"clients":[{"name":"gateway","algorithm":"ed25519","public_key":)"
    R"("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","ops":["public_key",)"
    R"("sign"],"keys":["*"]}],"replay_window_seconds":300,"max_request_bytes":65536,)"
    R"("max_nonces":1048576,"allow_unauthenticated_v1":false})";
constexpr char kDocDigest[] =
    "07aeac96d68d65be1279bc883a32042b28753adda169701acc40a7e7373be67517c58e4af3b3c8b954040006e40044"
    "04";
constexpr char kDocPcr16[] =
    "7afecf3497486ca5f2117d6f9a5eeae057008d33203952504c4f6e5738c3229c41183e6b5e2fa7e556f5d80dd2361c"
    "76";

std::string Client(const std::string& name, const std::string& extra = "",
                   const std::string& algorithm = "ed25519", const std::string& key = kEd,
                   const std::string& ops = R"(["sign"])", const std::string& keys = R"(["*"])") {
  return absl::StrCat(R"({"name": ")", name, R"(", "algorithm": ")", algorithm,
                      R"(", "public_key": ")", key, R"(", "ops": )", ops, R"(, "keys": )", keys,
                      extra, "}");
}

std::string Policy(const std::string& clients, const std::string& extra = "") {
  return absl::StrCat(R"({"version": 1, "clients": [)", clients, "]", extra, "}");
}

std::string Hex(const std::array<uint8_t, 48>& d) {
  return HexEncode(ByteView(d.data(), d.size()));
}

TEST(SigningPolicyTest, ParsesTheDocumentedExampleToItsDocumentedNumbers) {
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(kDocExample);
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->clients.size(), 1u);
  const AuthorizedClient& gw = policy->clients[0];
  EXPECT_EQ(gw.name, "gateway");
  EXPECT_EQ(gw.algorithm, ClientKeyAlgorithm::kEd25519);
  EXPECT_EQ(HexEncode(AsBytes(gw.public_key)), kEd);
  EXPECT_EQ(gw.ops, (std::vector<std::string>{"public_key", "sign"}));
  EXPECT_EQ(gw.keys, (std::vector<std::string>{"*"}));
  EXPECT_EQ(policy->replay_window, absl::Minutes(5));
  EXPECT_EQ(policy->max_request_bytes, 65536u);
  EXPECT_EQ(policy->max_nonces, 1u << 20);
  EXPECT_FALSE(policy->allow_unauthenticated_v1);
  EXPECT_EQ(CanonicalEncoding(*policy), kDocCanonical);
  EXPECT_EQ(Hex(PolicyDigest(*policy)), kDocDigest);
  EXPECT_EQ(Hex(ExpectedPcr16(*policy)), kDocPcr16);
}

TEST(SigningPolicyTest, Pcr16IsOneExtendOfTheDigestFromZeros) {
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(kDocExample);
  ASSERT_TRUE(policy.ok());
  const crypto::Sha384Digest digest = PolicyDigest(*policy);
  EXPECT_EQ(digest, crypto::Sha384(AsBytes(CanonicalEncoding(*policy))));
  Bytes preimage(48, 0);
  preimage.insert(preimage.end(), digest.begin(), digest.end());
  EXPECT_EQ(ExpectedPcr16(*policy), crypto::Sha384(preimage));
}

TEST(SigningPolicyTest, ParsesEveryFieldAndSortsClientsOpsAndKeys) {
  const std::string text = Policy(
      absl::StrCat(Client("z-ops", "", "ecdsa-p256", absl::AsciiStrToUpper(kP256),
                          R"(["health", "attest", "sign"])", R"(["wallet/hot", "prod.key@1"])"),
                   ",", Client("a_gw")),
      R"(, "replay_window_seconds": 60, "max_request_bytes": 4096, "max_nonces": 1000,
         "allow_unauthenticated_v1": true)");
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(text);
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->clients.size(), 2u);
  EXPECT_EQ(policy->clients[0].name, "a_gw");
  const AuthorizedClient* ops = policy->Find("z-ops");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(ops, &policy->clients[1]);
  EXPECT_EQ(ops->algorithm, ClientKeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(HexEncode(AsBytes(ops->public_key)), kP256);
  EXPECT_EQ(ops->ops, (std::vector<std::string>{"attest", "health", "sign"}));
  EXPECT_EQ(ops->keys, (std::vector<std::string>{"prod.key@1", "wallet/hot"}));
  EXPECT_TRUE(ops->AllowsOp("sign"));
  EXPECT_FALSE(ops->AllowsOp("public_key"));
  EXPECT_TRUE(ops->AllowsKey("wallet/hot"));
  EXPECT_FALSE(ops->AllowsKey("wallet/cold"));
  EXPECT_FALSE(ops->AllowsKey("*"));
  EXPECT_TRUE(policy->clients[0].AllowsKey("anything"));
  EXPECT_EQ(policy->Find("nobody"), nullptr);
  EXPECT_EQ(policy->Find(""), nullptr);
  EXPECT_EQ(policy->replay_window, absl::Seconds(60));
  EXPECT_EQ(policy->max_request_bytes, 4096u);
  EXPECT_EQ(policy->max_nonces, 1000u);
  EXPECT_TRUE(policy->allow_unauthenticated_v1);
}

TEST(SigningPolicyTest, CanonicalEncodingIsAFixpointAndIgnoresHowTheFileIsWritten) {
  const std::string a = Policy(
      absl::StrCat(Client("b", "", "ed25519", kEd, R"(["sign", "attest"])"), ",", Client("a")));
  // The same policy: other member order, whitespace, upper-case hex, defaults written out.
  const std::string b = absl::StrCat(
      R"({ "max_nonces": 1048576, "clients": [ {"keys": ["*"], "ops": ["sign"], "public_key": ")",
      absl::AsciiStrToUpper(kEd), R"(", "algorithm": "ed25519", "name": "a"},)",
      Client("b", "", "ed25519", kEd, R"(["attest", "sign"])"),
      R"(], "version": 1, "replay_window_seconds": 300, "allow_unauthenticated_v1": false })");
  absl::StatusOr<SigningPolicy> pa = ParseSigningPolicy(a);
  absl::StatusOr<SigningPolicy> pb = ParseSigningPolicy(b);
  ASSERT_TRUE(pa.ok()) << pa.status();
  ASSERT_TRUE(pb.ok()) << pb.status();
  const std::string canonical = CanonicalEncoding(*pa);
  EXPECT_EQ(CanonicalEncoding(*pb), canonical);
  absl::StatusOr<SigningPolicy> again = ParseSigningPolicy(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(CanonicalEncoding(*again), canonical);
  EXPECT_EQ(PolicyDigest(*pa), PolicyDigest(*pb));
}

TEST(SigningPolicyTest, EveryMeaningfulChangeChangesPcr16) {
  const std::string base = Policy(Client("gw"));
  const std::vector<std::string> variants = {
      Policy(absl::StrCat(Client("gw"), ",", Client("root-added"))),
      Policy(Client("gw2")),
      Policy(Client("gw", "", "ed25519", std::string(64, '1'))),
      Policy(Client("gw", "", "ed25519", kEd, R"(["sign", "attest"])")),
      Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", R"(["k"])")),
      Policy(Client("gw"), R"(, "replay_window_seconds": 301)"),
      Policy(Client("gw"), R"(, "max_request_bytes": 65537)"),
      Policy(Client("gw"), R"(, "max_nonces": 5)"),
      Policy(Client("gw"), R"(, "allow_unauthenticated_v1": true)"),
      Policy(Client("gw"),
             R"(, "key": {"eth_address": "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"})"),
      Policy(Client("gw"),
             absl::StrCat(R"(, "key": {"public_key_sha256": ")", std::string(64, '0'), "\"}")),
  };
  absl::StatusOr<SigningPolicy> p = ParseSigningPolicy(base);
  ASSERT_TRUE(p.ok()) << p.status();
  const auto pcr = ExpectedPcr16(*p);
  for (const std::string& v : variants) {
    absl::StatusOr<SigningPolicy> q = ParseSigningPolicy(v);
    ASSERT_TRUE(q.ok()) << q.status() << " for " << v;
    EXPECT_NE(ExpectedPcr16(*q), pcr) << v;
  }
}

struct BadCase {
  std::string name;
  std::string text;
  std::string error;  // a substring of the message
};

std::vector<BadCase> BadCases() {
  const std::string ok = Client("gw");
  return {
      {"NotJson", "{", "document: json: malformed document"},
      {"Empty", "", "document"},
      {"NotAnObject", "[1]", "document: must be a JSON object, not an array"},
      {"Nul", std::string(R"({"version": 1})") + std::string(1, '\0'), "NUL byte"},
      {"Oversized", Policy(ok, absl::StrCat(R"(, "max_nonces": 1)", std::string(300000, ' '))),
       "exceeds the limit"},
      {"UnknownTopField", Policy(ok, R"(, "allow_everyone": true)"),
       "document: unknown field \"allow_everyone\""},
      {"UnknownClientField", Policy(Client("gw", R"(, "admin": true)")),
       "clients[0]: unknown field \"admin\""},
      {"DuplicateMember", Policy(ok, R"(, "max_nonces": 5, "max_nonces": 6)"),
       "duplicate member name"},
      {"DuplicateMemberInClient", Policy(Client("gw", R"(, "name": "other")")),
       "duplicate member name"},
      {"MissingVersion", absl::StrCat(R"({"clients": [)", ok, "]}"), "version: is required"},
      {"WrongVersion", absl::StrCat(R"({"version": 2, "clients": [)", ok, "]}"),
       "version: must be between 1 and 1"},
      {"StringVersion", absl::StrCat(R"({"version": "1", "clients": [)", ok, "]}"),
       "version: must be an integer, not a string"},
      {"FloatVersion", absl::StrCat(R"({"version": 1.0, "clients": [)", ok, "]}"),
       "version: must be an integer"},
      {"MissingClients", R"({"version": 1})", "clients: is required"},
      {"ClientsNotArray", R"({"version": 1, "clients": {}})", "clients: must be an array"},
      {"NoClients", Policy(""), "clients: must name at least one client"},
      {"DuplicateClientNames",
       Policy(absl::StrCat(ok, ",", Client("gw", "", "ed25519", std::string(64, 'a')))),
       "two clients are named \"gw\""},
      {"ClientNotObject", Policy("\"gw\""), "clients[0]: must be an object"},
      {"MissingPublicKey",
       Policy(R"({"name": "gw", "algorithm": "ed25519", "ops": ["sign"], "keys": ["*"]})"),
       "clients[0].public_key: is required"},
      {"EmptyName", Policy(Client("")), "clients[0].name: must be 1 to 64"},
      {"LongName", Policy(Client(std::string(65, 'n'))), "clients[0].name: must be 1 to 64"},
      {"NameWithSpace", Policy(Client("a b")), "clients[0].name"},
      {"NameNotString",
       Policy(R"({"name": 7, "algorithm": "ed25519", "public_key": ")" + std::string(kEd) +
              R"(", "ops": ["sign"], "keys": ["*"]})"),
       "clients[0].name: must be a string, not a number"},
      {"UnknownAlgorithm", Policy(Client("gw", "", "rsa")), "clients[0].algorithm"},
      {"BadHex", Policy(Client("gw", "", "ed25519", std::string(63, 'a') + "g")),
       "clients[0].public_key: not hex"},
      {"OddHex", Policy(Client("gw", "", "ed25519", std::string(63, 'a'))),
       "clients[0].public_key: not hex"},
      {"HexPrefix", Policy(Client("gw", "", "ed25519", "0x" + std::string(64, 'a'))),
       "clients[0].public_key: not hex"},
      {"ShortEd25519", Policy(Client("gw", "", "ed25519", std::string(62, 'a'))),
       "an ed25519 key is 32 bytes, not 31"},
      {"P256KeyForEd25519", Policy(Client("gw", "", "ed25519", kP256)),
       "an ed25519 key is 32 bytes, not 65"},
      {"Ed25519KeyForP256", Policy(Client("gw", "", "ecdsa-p256", kEd)),
       "an ecdsa-p256 key is 65 bytes"},
      {"CompressedP256",
       Policy(Client("gw", "", "ecdsa-p256", "02" + std::string(kP256).substr(2, 64))),
       "an ecdsa-p256 key is 65 bytes"},
      {"P256OffCurve",
       Policy(Client("gw", "", "ecdsa-p256", std::string(kP256).substr(0, 128) + "f6")),
       "clients[0].public_key: is not a point on P-256"},
      {"P256CoordinateAbovePrime",
       Policy(Client("gw", "", "ecdsa-p256", "04" + std::string(128, 'f'))),
       "is not a point on P-256"},
      {"UnknownOp", Policy(Client("gw", "", "ed25519", kEd, R"(["sign", "export_key"])")),
       "clients[0].ops[1]: unknown op"},
      {"DuplicateOp", Policy(Client("gw", "", "ed25519", kEd, R"(["sign", "sign"])")),
       "clients[0].ops: lists an entry twice"},
      {"EmptyOps", Policy(Client("gw", "", "ed25519", kEd, "[]")),
       "clients[0].ops: must not be empty"},
      {"TooManyOps",
       Policy(Client("gw", "", "ed25519", kEd,
                     R"(["sign", "attest", "health", "public_key", "generate_key", "sign"])")),
       "6 entries exceeds the limit of 5"},
      {"OpNotString", Policy(Client("gw", "", "ed25519", kEd, "[1]")),
       "clients[0].ops[0]: must be a string"},
      {"OpsNotArray", Policy(Client("gw", "", "ed25519", kEd, "\"sign\"")),
       "clients[0].ops: must be an array of strings"},
      {"EmptyKeys", Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", "[]")),
       "clients[0].keys: must not be empty"},
      {"StarBesideKeys", Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", R"(["*", "k"])")),
       "\"*\" must be the only entry"},
      {"DuplicateKey", Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", R"(["k", "k"])")),
       "clients[0].keys: lists an entry twice"},
      {"BadKeyName", Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", R"(["a\"b"])")),
       "clients[0].keys[0]: a key name is"},
      {"EmptyKeyName", Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])", R"([""])")),
       "clients[0].keys[0]"},
      {"TooManyKeys",
       Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])",
                     [] {
                       std::string keys = "[";
                       for (int i = 0; i < 65; ++i)
                         absl::StrAppend(&keys, i ? "," : "", "\"k", i, "\"");
                       return keys + "]";
                     }())),
       "65 entries exceeds the limit of 64"},
      {"ZeroWindow", Policy(ok, R"(, "replay_window_seconds": 0)"),
       "replay_window_seconds: must be between 1 and 3600, not 0"},
      {"NegativeWindow", Policy(ok, R"(, "replay_window_seconds": -5)"),
       "replay_window_seconds: must be between 1 and 3600, not negative"},
      {"HugeWindow", Policy(ok, R"(, "replay_window_seconds": 99999999999999999999)"),
       "replay_window_seconds: must be an integer"},
      {"FractionalWindow", Policy(ok, R"(, "replay_window_seconds": 1.5)"),
       "replay_window_seconds: must be an integer"},
      {"ExponentWindow", Policy(ok, R"(, "replay_window_seconds": 3e2)"),
       "replay_window_seconds: must be an integer"},
      {"StringWindow", Policy(ok, R"(, "replay_window_seconds": "300")"),
       "replay_window_seconds: must be an integer, not a string"},
      {"TinyRequests", Policy(ok, R"(, "max_request_bytes": 10)"),
       "max_request_bytes: must be between 256 and 16777216, not 10"},
      {"HugeRequests", Policy(ok, R"(, "max_request_bytes": 16777217)"), "max_request_bytes"},
      {"ZeroNonces", Policy(ok, R"(, "max_nonces": 0)"), "max_nonces: must be between 1"},
      {"TooManyNonces", Policy(ok, R"(, "max_nonces": 16777217)"), "max_nonces"},
      {"V1NotBool", Policy(ok, R"(, "allow_unauthenticated_v1": "false")"),
       "allow_unauthenticated_v1: must be true or false, not a string"},
      {"V1Null", Policy(ok, R"(, "allow_unauthenticated_v1": null)"),
       "allow_unauthenticated_v1: must be true or false, not null"},
      {"PinNotObject", Policy(ok, R"(, "key": "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")"),
       "key: must be an object, not a string"},
      {"PinNull", Policy(ok, R"(, "key": null)"), "key: must be an object, not null"},
      {"PinEmpty", Policy(ok, R"(, "key": {})"), "key: must hold exactly one of"},
      {"PinBoth",
       Policy(ok, absl::StrCat(R"(, "key": {"eth_address": "0x)", std::string(40, 'a'),
                               R"(", "public_key_sha256": ")", std::string(64, 'a'), "\"}")),
       "key: must hold exactly one of"},
      {"PinUnknownMember", Policy(ok, R"(, "key": {"fingerprint": "ab"})"),
       "key: unknown field \"fingerprint\""},
      {"PinDuplicateMember",
       Policy(ok, absl::StrCat(R"(, "key": {"eth_address": "0x)", std::string(40, 'a'),
                               R"(", "eth_address": "0x)", std::string(40, 'b'), "\"}")),
       "duplicate member name"},
      {"PinShortSha",
       Policy(ok, absl::StrCat(R"(, "key": {"public_key_sha256": ")", std::string(62, 'a'), "\"}")),
       "key.public_key_sha256: a SHA-256 is 32 bytes (64 hex digits), not 31"},
      {"PinShaNotHex",
       Policy(ok,
              absl::StrCat(R"(, "key": {"public_key_sha256": ")", std::string(63, 'a'), "g\"}")),
       "key.public_key_sha256: not hex"},
      {"PinShaNumber", Policy(ok, R"(, "key": {"public_key_sha256": 5})"),
       "key.public_key_sha256: must be a string, not a number"},
      {"PinAddressNoPrefix",
       Policy(ok, absl::StrCat(R"(, "key": {"eth_address": ")", std::string(40, 'a'), "\"}")),
       "key.eth_address: is not an address: expected 0x and 40 hex digits"},
      {"PinAddressShort",
       Policy(ok, absl::StrCat(R"(, "key": {"eth_address": "0x)", std::string(38, 'a'), "\"}")),
       "key.eth_address: is not an address"},
      {"PinAddressBadChecksum",
       Policy(ok, R"(, "key": {"eth_address": "0x7E5F4552091A69125d5DfCb7b8C2659029395BdF"})"),
       "key.eth_address: is not an address: mixed-case digits that are not its EIP-55"},
      {"PinAddressNotHex",
       Policy(ok, absl::StrCat(R"(, "key": {"eth_address": "0x)", std::string(39, 'a'), "z\"}")),
       "key.eth_address: is not an address: non-hex"},
  };
}

class BadPolicyTest : public testing::TestWithParam<BadCase> {};

TEST_P(BadPolicyTest, IsRefusedNamingTheField) {
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(GetParam().text);
  ASSERT_FALSE(policy.ok()) << GetParam().name << " was accepted";
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(policy.status().message());
  EXPECT_NE(message.find(GetParam().error), std::string::npos) << message;
  EXPECT_EQ(message.rfind("signing policy: ", 0), 0u) << message;
  EXPECT_LT(message.size(), 200u);
  EXPECT_EQ(message.find(kEd), std::string::npos) << "the error quotes a key";
  EXPECT_EQ(message.find(std::string(kP256).substr(2, 40)), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(All, BadPolicyTest, testing::ValuesIn(BadCases()),
                         [](const testing::TestParamInfo<BadCase>& param) {
                           return param.param.name;
                         });

TEST(SigningPolicyTest, AcceptsTheLimits) {
  std::string clients;
  for (size_t i = 0; i < kMaxClients; ++i) {
    absl::StrAppend(&clients, i ? "," : "", Client(absl::StrCat("c", i)));
  }
  absl::StatusOr<SigningPolicy> many = ParseSigningPolicy(
      Policy(clients, R"(, "replay_window_seconds": 3600, "max_request_bytes": 16777216,
                   "max_nonces": 16777216)"));
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_EQ(many->clients.size(), kMaxClients);
  EXPECT_NE(many->Find("c255"), nullptr);
  absl::StatusOr<SigningPolicy> too_many =
      ParseSigningPolicy(Policy(absl::StrCat(clients, ",", Client("extra"))));
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(std::string(too_many.status().message()).find("257 clients exceeds the limit of 256"),
            std::string::npos);
  EXPECT_TRUE(ParseSigningPolicy(Policy(Client(std::string(64, 'n')))).ok());
  EXPECT_TRUE(ParseSigningPolicy(Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])",
                                               absl::StrCat("[\"", std::string(512, 'k'), "\"]"))))
                  .ok());
  EXPECT_FALSE(ParseSigningPolicy(Policy(Client("gw", "", "ed25519", kEd, R"(["sign"])",
                                                absl::StrCat("[\"", std::string(513, 'k'), "\"]"))))
                   .ok());
}

// Private keys 1 and 2 on secp256k1 and their well-known addresses (the generator G and 2G).
constexpr char kAddressOfKey1[] = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
constexpr char kAddressOfKey2[] = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF";

std::unique_ptr<signer::Signer> SmallKey(std::string_view group, uint8_t scalar) {
  SecretBytes raw(32);
  raw.RevealMutable()[31] = scalar;
  absl::StatusOr<SecretBytes> pkcs8 = crypto::EcPrivateKeyToPkcs8(group, raw);
  EXPECT_TRUE(pkcs8.ok()) << pkcs8.status();
  absl::StatusOr<std::unique_ptr<signer::Signer>> key = signer::Signer::FromPkcs8(*pkcs8);
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

TEST(KeyPinTest, AnAddressPinIsSealedInTheCanonicalEncodingInLowerCase) {
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(
      Policy(Client("gw"), absl::StrCat(R"(, "key": {"eth_address": ")", kAddressOfKey1, "\"}")));
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_TRUE(policy->key.has_value());
  EXPECT_EQ(policy->key->kind, KeyPinKind::kEthAddress);
  EXPECT_EQ(HexEncode(policy->key->value), "7e5f4552091a69125d5dfcb7b8c2659029395bdf");
  const std::string canonical = CanonicalEncoding(*policy);
  EXPECT_NE(canonical.find(R"("allow_unauthenticated_v1":false,"key":{"eth_address":)"
                           R"("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"}})"),
            std::string::npos)
      << canonical;
  absl::StatusOr<SigningPolicy> again = ParseSigningPolicy(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->key, policy->key);
  EXPECT_EQ(CanonicalEncoding(*again), canonical);
  // Upper-case digits mean the same address: same encoding, same PCR16.
  absl::StatusOr<SigningPolicy> upper = ParseSigningPolicy(Policy(
      Client("gw"), R"(, "key": {"eth_address": "0x7E5F4552091A69125D5DFCB7B8C2659029395BDF"})"));
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(ExpectedPcr16(*upper), ExpectedPcr16(*policy));
  EXPECT_EQ(DescribeKeyPin(*policy->key), absl::StrCat("eth_address ", kAddressOfKey1));
}

TEST(KeyPinTest, APublicKeySha256PinRoundTripsAndChangesThePcr) {
  const std::string hex = "AB" + std::string(62, '0');
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(
      Policy(Client("gw"), absl::StrCat(R"(, "key": {"public_key_sha256": ")", hex, "\"}")));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(KeyPinJson(*policy->key), R"({"public_key_sha256":"ab)" + std::string(62, '0') + "\"}");
  absl::StatusOr<SigningPolicy> unpinned = ParseSigningPolicy(Policy(Client("gw")));
  ASSERT_TRUE(unpinned.ok());
  EXPECT_FALSE(unpinned->key.has_value());
  EXPECT_NE(ExpectedPcr16(*policy), ExpectedPcr16(*unpinned));
  EXPECT_EQ(CanonicalEncoding(*unpinned).find("\"key\""), std::string::npos);
}

TEST(KeyPinTest, TheMatchingKeyPassesAndAnotherIsRefusedNamingBoth) {
  std::unique_ptr<signer::Signer> key1 = SmallKey("secp256k1", 1);
  std::unique_ptr<signer::Signer> key2 = SmallKey("secp256k1", 2);
  ASSERT_TRUE(key1 && key2);
  absl::StatusOr<KeyPin> pin = PinOfKey(*key1, KeyPinKind::kEthAddress);
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ(DescribeKeyPin(*pin), absl::StrCat("eth_address ", kAddressOfKey1));
  EXPECT_TRUE(CheckKeyPin(*pin, *key1).ok());
  const absl::Status refused = CheckKeyPin(*pin, *key2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            absl::StrCat("key does not match the policy's pin: the policy pins eth_address ",
                         kAddressOfKey1, ", the key has eth_address ", kAddressOfKey2));

  absl::StatusOr<KeyPin> sha = PinOfKey(*key1, KeyPinKind::kPublicKeySha256);
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(sha->value.size(), 32u);
  EXPECT_TRUE(CheckKeyPin(*sha, *key1).ok());
  EXPECT_FALSE(CheckKeyPin(*sha, *key2).ok());
}

TEST(KeyPinTest, AnAddressPinRefusesAKeyOfAnotherType) {
  std::unique_ptr<signer::Signer> key1 = SmallKey("secp256k1", 1);
  std::unique_ptr<signer::Signer> p256 = SmallKey("P-256", 1);
  ASSERT_TRUE(key1 && p256);
  absl::StatusOr<KeyPin> pin = PinOfKey(*key1, KeyPinKind::kEthAddress);
  ASSERT_TRUE(pin.ok());
  const absl::Status refused = CheckKeyPin(*pin, *p256);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("the key has a p256 key with public_key_sha256 "),
            std::string::npos)
      << refused.message();
  EXPECT_FALSE(PinOfKey(*p256, KeyPinKind::kEthAddress).ok());
}

// Wallet rules ("wallet"): parsed strictly, sealed only when present.
constexpr char kWalletFull[] = R"(, "wallet": {
  "chain_ids": [137, 1],
  "recipients": ["0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
                 "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"],
  "max_value_wei": "1000000000000000000",
  "methods": ["0xA9059CBB", "0x095ea7b3"],
  "eip712_domains": [{"name": "Ether Mail", "version": "1", "chainId": 1,
                      "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
                     {"name": "Permit2"}],
  "allow_personal_sign": false})";
constexpr char kWalletCanonical[] =
    R"(,"wallet":{"chain_ids":[1,137],"recipients":["0x2b5ad5c4795c026514f8317c7a215e218dccd6cf",)"
    R"("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"],"max_value_wei":"1000000000000000000",)"
    R"("methods":["0x095ea7b3","0xa9059cbb"],"eip712_domains":[{"name":"Ether Mail","version":"1",)"
    R"("chainId":1,"verifyingContract":"0xcccccccccccccccccccccccccccccccccccccccc"},)"
    R"({"name":"Permit2"}],"allow_personal_sign":false}})";

TEST(WalletRulesTest, AFullSectionParsesAndIsSealedCanonicallyAfterEverythingElse) {
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(Policy(Client("gw"), kWalletFull));
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_TRUE(policy->wallet.has_value());
  const WalletRules& w = *policy->wallet;
  EXPECT_EQ(*w.chain_ids, (std::vector<uint64_t>{1, 137}));
  ASSERT_EQ(w.recipients->size(), 2u);
  EXPECT_EQ(w.max_value_wei_decimal, "1000000000000000000");
  EXPECT_EQ(HexEncode(ByteView(w.max_value_wei->data(), 32)),
            std::string(48, '0') + "0de0b6b3a7640000");
  ASSERT_EQ(w.methods->size(), 2u);
  EXPECT_EQ((*w.methods)[0], (std::array<uint8_t, 4>{0x09, 0x5e, 0xa7, 0xb3}));
  ASSERT_EQ(w.eip712_domains->size(), 2u);
  EXPECT_EQ(*(*w.eip712_domains)[1].name, "Permit2");
  EXPECT_FALSE(w.allow_personal_sign);
  const std::string canonical = CanonicalEncoding(*policy);
  EXPECT_NE(canonical.find(absl::StrCat(R"("allow_unauthenticated_v1":false)", kWalletCanonical)),
            std::string::npos)
      << canonical;
  absl::StatusOr<SigningPolicy> again = ParseSigningPolicy(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->wallet, policy->wallet);
  EXPECT_EQ(CanonicalEncoding(*again), canonical);
}

TEST(WalletRulesTest, APolicyWithoutWalletKeepsItsPcr16AndEachRuleChangesIt) {
  // The documented example's numbers are unchanged (ParsesTheDocumentedExample... checks them);
  // here: adding any rule changes PCR16, and the default allow_personal_sign is written out.
  const std::string base = Policy(Client("gw"));
  absl::StatusOr<SigningPolicy> plain = ParseSigningPolicy(base);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(CanonicalEncoding(*plain).find("wallet"), std::string::npos);
  const std::vector<std::string> variants = {
      R"(, "wallet": {"chain_ids": [1]})",
      R"(, "wallet": {"chain_ids": [2]})",
      R"(, "wallet": {"recipients": ["0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"]})",
      R"(, "wallet": {"max_value_wei": "0"})",
      R"(, "wallet": {"max_value_wei": "1"})",
      R"(, "wallet": {"methods": ["0xa9059cbb"]})",
      R"(, "wallet": {"eip712_domains": [{"chainId": 1}]})",
      R"(, "wallet": {"allow_personal_sign": false})",
  };
  std::vector<std::array<uint8_t, 48>> seen = {ExpectedPcr16(*plain)};
  for (const std::string& v : variants) {
    absl::StatusOr<SigningPolicy> p = ParseSigningPolicy(Policy(Client("gw"), v));
    ASSERT_TRUE(p.ok()) << v << ": " << p.status();
    for (const auto& pcr : seen) EXPECT_NE(ExpectedPcr16(*p), pcr) << v;
    seen.push_back(ExpectedPcr16(*p));
  }
  absl::StatusOr<SigningPolicy> explicit_true = ParseSigningPolicy(
      Policy(Client("gw"), R"(, "wallet": {"chain_ids": [1], "allow_personal_sign": true})"));
  absl::StatusOr<SigningPolicy> implicit_true =
      ParseSigningPolicy(Policy(Client("gw"), variants[0]));
  ASSERT_TRUE(explicit_true.ok() && implicit_true.ok());
  EXPECT_EQ(CanonicalEncoding(*explicit_true), CanonicalEncoding(*implicit_true));
  EXPECT_NE(CanonicalEncoding(*implicit_true)
                .find(R"("wallet":{"chain_ids":[1],"allow_personal_sign":true}})"),
            std::string::npos);
}

TEST(WalletRulesTest, MalformedSectionsAreRefusedNamingTheField) {
  const std::string ok = Client("gw");
  const std::string a40(40, 'a');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(, "wallet": [])", "wallet: must be an object"},
      {R"(, "wallet": {})", "wallet: restricts nothing"},
      {R"(, "wallet": {"allow_personal_sign": true})", "wallet: restricts nothing"},
      {R"(, "wallet": {"chains": [1]})", "wallet: unknown field \"chains\""},
      {R"(, "wallet": {"chain_ids": []})", "wallet.chain_ids: must not be empty"},
      {R"(, "wallet": {"chain_ids": [0]})", "wallet.chain_ids[0]: must be between 1"},
      {R"(, "wallet": {"chain_ids": [-1]})", "wallet.chain_ids[0]: must be between"},
      {R"(, "wallet": {"chain_ids": ["1"]})", "wallet.chain_ids[0]: must be an integer"},
      {R"(, "wallet": {"chain_ids": [1.5]})", "wallet.chain_ids[0]: must be an integer"},
      {R"(, "wallet": {"chain_ids": [1, 1]})", "wallet.chain_ids: lists an entry twice"},
      {R"(, "wallet": {"chain_ids": 1})", "wallet.chain_ids: must be an array"},
      {R"(, "wallet": {"recipients": ["0x7E5F4552091A69125d5DfCb7b8C2659029395BdF"]})",
       "wallet.recipients[0]: is not an address: mixed-case"},
      {absl::StrCat(R"(, "wallet": {"recipients": [")", a40, "\"]}"),
       "wallet.recipients[0]: is not an address"},
      {absl::StrCat(R"(, "wallet": {"recipients": ["0x)", a40, R"(", "0x)", a40, "\"]}"),
       "wallet.recipients: lists an entry twice"},
      {R"(, "wallet": {"max_value_wei": 5})", "wallet.max_value_wei: must be a string"},
      {R"(, "wallet": {"max_value_wei": "0x10"})", "wallet.max_value_wei: must be a string of"},
      {R"(, "wallet": {"max_value_wei": "-1"})", "wallet.max_value_wei: must be a string of"},
      {R"(, "wallet": {"max_value_wei": ""})", "wallet.max_value_wei: must be a string of"},
      {R"(, "wallet": {"max_value_wei": "01"})", "wallet.max_value_wei: must be a decimal"},
      {absl::StrCat(R"(, "wallet": {"max_value_wei": ")", std::string(78, '9'), "\"}"),
       "wallet.max_value_wei: must be a decimal"},
      {R"(, "wallet": {"methods": ["a9059cbb"]})", "wallet.methods[0]: a selector is"},
      {R"(, "wallet": {"methods": ["0xa9059cb"]})", "wallet.methods[0]: a selector is"},
      {R"(, "wallet": {"methods": ["0xa9059cbbcc"]})", "wallet.methods[0]: a selector is"},
      {R"(, "wallet": {"methods": ["0xa9059cbg"]})", "wallet.methods[0]: a selector is"},
      {R"(, "wallet": {"methods": ["0xa9059cbb", "0xA9059CBB"]})",
       "wallet.methods: lists an entry twice"},
      {R"(, "wallet": {"eip712_domains": [{}]})", "wallet.eip712_domains[0]: must set"},
      {R"(, "wallet": {"eip712_domains": [{"salt": "0x00"}]})",
       "wallet.eip712_domains[0]: unknown field \"salt\""},
      {R"(, "wallet": {"eip712_domains": [{"name": ""}]})",
       "wallet.eip712_domains[0].name: must be 1 to 128"},
      {R"(, "wallet": {"eip712_domains": [{"name": "a\"b"}]})",
       "wallet.eip712_domains[0].name: must be 1 to 128"},
      {R"(, "wallet": {"eip712_domains": [{"version": "\n"}]})",
       "wallet.eip712_domains[0].version: must be 1 to 128"},
      {R"(, "wallet": {"eip712_domains": [{"chainId": "1"}]})",
       "wallet.eip712_domains[0].chainId: must be an integer"},
      {R"(, "wallet": {"eip712_domains": [{"verifyingContract": "0x12"}]})",
       "wallet.eip712_domains[0].verifyingContract: is not an address"},
      {R"(, "wallet": {"eip712_domains": [{"chainId": 1}, {"chainId": 1}]})",
       "wallet.eip712_domains: lists an entry twice"},
      {R"(, "wallet": {"eip712_domains": []})", "wallet.eip712_domains: must not be empty"},
      {R"(, "wallet": {"allow_personal_sign": 0})", "wallet.allow_personal_sign: must be true"},
      {R"(, "wallet": {"chain_ids": [1], "chain_ids": [2]})", "duplicate member name"},
  };
  for (const auto& [extra, error] : cases) {
    absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(Policy(ok, extra));
    ASSERT_FALSE(policy.ok()) << extra << " was accepted";
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(policy.status().message());
    EXPECT_NE(message.find(error), std::string::npos) << extra << ": " << message;
    EXPECT_EQ(message.find(a40), std::string::npos) << message;
  }
}

TEST(WalletRulesTest, ListLimitsAreEnforced) {
  std::string ids;
  for (size_t i = 1; i <= kMaxWalletChainIds + 1; ++i) absl::StrAppend(&ids, i == 1 ? "" : ",", i);
  absl::StatusOr<SigningPolicy> over = ParseSigningPolicy(
      Policy(Client("gw"), absl::StrCat(R"(, "wallet": {"chain_ids": [)", ids, "]}")));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("exceeds the limit of 64"), absl::string_view::npos);
  ids = ids.substr(0, ids.rfind(','));
  EXPECT_TRUE(ParseSigningPolicy(
                  Policy(Client("gw"), absl::StrCat(R"(, "wallet": {"chain_ids": [)", ids, "]}")))
                  .ok());
  // The largest value and chain id.
  absl::StatusOr<SigningPolicy> big = ParseSigningPolicy(Policy(
      Client("gw"),
      R"(, "wallet": {"chain_ids": [18446744073709551615], "max_value_wei": )"
      R"("115792089237316195423570985008687907853269984665640564039457584007913129639935"})"));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(*big->wallet->max_value_wei, (std::array<uint8_t, 32>{} = [] {
    std::array<uint8_t, 32> a;
    a.fill(0xff);
    return a;
  }()));
}

}  // namespace
}  // namespace lockout::signpolicy

namespace lockout::signpolicy {
namespace {

// HD keys: a client's optional "paths" (docs/WALLET.md "HD keys").
TEST(SigningPolicyPathsTest, PathsParseToCanonicalSortedPatternsAndMatch) {
  absl::StatusOr<SigningPolicy> p = ParseSigningPolicy(
      Policy(Client("gw", R"(, "paths": ["m/44h/60h/0h/0/*", "m/0'", "m/*'/1"])")));
  ASSERT_TRUE(p.ok()) << p.status();
  const AuthorizedClient& c = p->clients[0];
  ASSERT_TRUE(c.paths.has_value());
  EXPECT_EQ(*c.paths, (std::vector<std::string>{"m/*'/1", "m/0'", "m/44'/60'/0'/0/*"}));
  EXPECT_TRUE(c.AllowsPath(*hd::DerivationPath::Parse("m/44'/60'/0'/0/17")));
  EXPECT_TRUE(c.AllowsPath(*hd::DerivationPath::Parse("m/0'")));
  EXPECT_TRUE(c.AllowsPath(*hd::DerivationPath::Parse("m/3'/1")));
  EXPECT_FALSE(c.AllowsPath(*hd::DerivationPath::Parse("m/0")));
  EXPECT_FALSE(c.AllowsPath(*hd::DerivationPath::Parse("m/44'/60'/1'/0/0")));
  EXPECT_FALSE(c.AllowsPath(hd::DerivationPath()));
  // Canonical: written out, and it parses back to itself.
  const std::string canonical = CanonicalEncoding(*p);
  EXPECT_NE(canonical.find(R"("paths":["m/*'/1","m/0'","m/44'/60'/0'/0/*"])"), std::string::npos)
      << canonical;
  absl::StatusOr<SigningPolicy> again = ParseSigningPolicy(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(CanonicalEncoding(*again), canonical);
}

TEST(SigningPolicyPathsTest, NoPathsAllowsEveryPathAndKeepsTheOldEncoding) {
  absl::StatusOr<SigningPolicy> p = ParseSigningPolicy(Policy(Client("gw")));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->clients[0].paths.has_value());
  EXPECT_TRUE(p->clients[0].AllowsPath(*hd::DerivationPath::Parse("m/1/2/3")));
  EXPECT_EQ(CanonicalEncoding(*p).find("paths"), std::string::npos);
  // Adding paths changes what is sealed.
  absl::StatusOr<SigningPolicy> q =
      ParseSigningPolicy(Policy(Client("gw", R"(, "paths": ["m/0"])")));
  ASSERT_TRUE(q.ok());
  EXPECT_NE(ExpectedPcr16(*p), ExpectedPcr16(*q));
}

TEST(SigningPolicyPathsTest, MalformedPathsAreRefusedNamingTheField) {
  std::string many = "[";
  for (size_t i = 0; i <= kMaxPathsPerClient; ++i)
    absl::StrAppend(&many, i ? "," : "", "\"m/", i, "\"");
  many += "]";
  for (const std::string& paths :
       {std::string(R"([])"), std::string(R"("m/0")"), std::string(R"([1])"),
        std::string(R"(["m/0'", "m/0h"])"), std::string(R"(["m/**"])"), std::string(R"(["m/01"])"),
        std::string(R"(["44'/60'"])"), std::string(R"([null])"), std::string(R"(["m/0", "m/0"])"),
        absl::StrCat("[\"m", std::string(300, '0'), "\"]"), many}) {
    absl::StatusOr<SigningPolicy> p =
        ParseSigningPolicy(Policy(Client("gw", absl::StrCat(R"(, "paths": )", paths))));
    ASSERT_FALSE(p.ok()) << paths;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(p.status().message()).find("clients[0].paths"), std::string::npos)
        << p.status();
  }
}

}  // namespace
}  // namespace lockout::signpolicy

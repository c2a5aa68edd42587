#include "src/localaws/secrets_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/localaws/identity.h"
#include "src/localaws/secrets_store.h"
#include "src/policy/policy_evaluator.h"
#include "tests/testing/temp_dir.h"

namespace lockout::localaws {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kMarkedForDeletion[] =
    "You can't perform this operation on the secret because it was marked for deletion.";
constexpr char kNotFound[] = "Secrets Manager can't find the specified secret.";
constexpr char kToken1[] = "11111111-1111-4111-8111-111111111111";
constexpr char kToken2[] = "22222222-2222-4222-8222-222222222222";

using ::lockout::testing::TempDir;

std::string B64(std::string_view s) {
  return Base64Encode(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

class SecretsServiceTest : public ::testing::Test {
 protected:
  SecretsServiceTest() : clock_(absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250)) {
    auto identity = IdentityStore::Open(dir_.path(), IdentityOptions{}, clock_);
    EXPECT_TRUE(identity.ok()) << identity.status();
    identity_ = *std::move(identity);
    Reopen();
  }

  void Reopen() {
    service_.reset();
    auto s = SecretsService::Open(dir_.path(), *identity_, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
  }

  AwsResult Call(std::string_view op, const Json& body) {
    return CallAs(identity_->root(), op, body);
  }
  AwsResult CallAs(const policy::Principal& who, std::string_view op, const Json& body) {
    return service_->Handle(op, body, CallContext{who, "AKIDTEST", "req-1"});
  }
  // Calls and expects success.
  Json Ok(std::string_view op, const Json& body) {
    AwsResult r = Call(op, body);
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().type + ": " + r.error().message);
    return r.ok() ? r.value() : Json();
  }
  std::string SecretsDir() const { return dir_.path() + "/secretsmanager"; }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<IdentityStore> identity_;
  std::unique_ptr<SecretsService> service_;
};

void ExpectError(const AwsResult& r, std::string_view type) {
  ASSERT_FALSE(r.ok()) << r.value().dump();
  EXPECT_EQ(r.error().type, type) << r.error().message;
  EXPECT_EQ(r.error().status, 400);
}

void ExpectError(const AwsResult& r, std::string_view type, std::string_view message) {
  ExpectError(r, type);
  if (!r.ok()) {
    EXPECT_EQ(r.error().message, message);
  }
}

// --- CreateSecret / GetSecretValue ---------------------------------------------------------

TEST_F(SecretsServiceTest, CreateSecretReturnsArnWithSixCharacterSuffixAndUuidVersion) {
  Json created = Ok("CreateSecret", {{"Name", "prod/db-password"}, {"SecretString", "hunter2"}});
  EXPECT_TRUE(std::regex_match(
      created["ARN"].get<std::string>(),
      std::regex("arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-password-"
                 "[A-Za-z0-9]{6}")))
      << created["ARN"];
  EXPECT_EQ(created["Name"], "prod/db-password");
  EXPECT_TRUE(std::regex_match(
      created["VersionId"].get<std::string>(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << created["VersionId"];
}

TEST_F(SecretsServiceTest, GetSecretValueReturnsTheCurrentStringVersion) {
  Json created = Ok("CreateSecret", {{"Name", "s1"}, {"SecretString", "{\"k\":\"v\"}"}});
  Json got = Ok("GetSecretValue", {{"SecretId", "s1"}});
  EXPECT_EQ(got["ARN"], created["ARN"]);
  EXPECT_EQ(got["Name"], "s1");
  EXPECT_EQ(got["VersionId"], created["VersionId"]);
  EXPECT_EQ(got["SecretString"], "{\"k\":\"v\"}");
  EXPECT_FALSE(got.contains("SecretBinary"));
  EXPECT_EQ(got["VersionStages"], Json::array({"AWSCURRENT"}));
  // Epoch seconds with millisecond precision, as AWS sends CreatedDate.
  EXPECT_DOUBLE_EQ(got["CreatedDate"].get<double>(), 1700000000.25);
}

TEST_F(SecretsServiceTest, BinarySecretRoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  Ok("CreateSecret", {{"Name", "bin"}, {"SecretBinary", B64(all)}});
  Json got = Ok("GetSecretValue", {{"SecretId", "bin"}});
  EXPECT_EQ(got["SecretBinary"], B64(all));
  EXPECT_FALSE(got.contains("SecretString"));
}

TEST_F(SecretsServiceTest, SecretIdMayBeTheFullArnOrThePartialArn) {
  Json created = Ok("CreateSecret", {{"Name", "app/key"}, {"SecretString", "v"}});
  const std::string arn = created["ARN"];
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", arn}})["Name"], "app/key");
  EXPECT_EQ(
      Ok("GetSecretValue",
         {{"SecretId", "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/key"}})["Name"],
      "app/key");
  // A full ARN with the wrong suffix, another Region or another account names nothing.
  ExpectError(Call("GetSecretValue", {{"SecretId", arn.substr(0, arn.size() - 6) + "ZZZZZZ"}}),
              "ResourceNotFoundException", kNotFound);
  ExpectError(Call("GetSecretValue",
                   {{"SecretId", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/key"}}),
              "ResourceNotFoundException");
  ExpectError(Call("GetSecretValue",
                   {{"SecretId", "arn:aws:secretsmanager:us-east-1:999999999999:secret:app/key"}}),
              "ResourceNotFoundException");
}

TEST_F(SecretsServiceTest, FullArnWinsOverANameThatLooksLikeOne) {
  Json a = Ok("CreateSecret", {{"Name", "db"}, {"SecretString", "a"}});
  const std::string arn = a["ARN"];
  const std::string lookalike = "db" + arn.substr(arn.size() - 7);  // "db-XXXXXX"
  Ok("CreateSecret", {{"Name", lookalike}, {"SecretString", "b"}});
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", arn}})["SecretString"], "a");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", lookalike}})["SecretString"], "b");
}

TEST_F(SecretsServiceTest, UnknownSecretIsResourceNotFound) {
  ExpectError(Call("GetSecretValue", {{"SecretId", "nope"}}), "ResourceNotFoundException",
              kNotFound);
  ExpectError(Call("DescribeSecret", {{"SecretId", "nope"}}), "ResourceNotFoundException",
              kNotFound);
  ExpectError(Call("PutSecretValue", {{"SecretId", "nope"}, {"SecretString", "x"}}),
              "ResourceNotFoundException", kNotFound);
  ExpectError(Call("DeleteSecret", {{"SecretId", "nope"}}), "ResourceNotFoundException", kNotFound);
}

TEST_F(SecretsServiceTest, CreatingAnExistingNameIsResourceExists) {
  Ok("CreateSecret", {{"Name", "dup"}, {"SecretString", "a"}});
  ExpectError(Call("CreateSecret", {{"Name", "dup"}, {"SecretString", "b"}}),
              "ResourceExistsException",
              "The operation failed because the secret dup already exists.");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "dup"}})["SecretString"], "a");
}

TEST_F(SecretsServiceTest, CreateWithTheSameTokenAndValueIsIdempotent) {
  Json first = Ok("CreateSecret",
                  {{"Name", "idem"}, {"SecretString", "a"}, {"ClientRequestToken", kToken1}});
  EXPECT_EQ(first["VersionId"], kToken1);
  Json again = Ok("CreateSecret",
                  {{"Name", "idem"}, {"SecretString", "a"}, {"ClientRequestToken", kToken1}});
  EXPECT_EQ(again, first);
  ExpectError(Call("CreateSecret",
                   {{"Name", "idem"}, {"SecretString", "b"}, {"ClientRequestToken", kToken1}}),
              "ResourceExistsException");
  // Same bytes but binary instead of string is a different value.
  ExpectError(Call("CreateSecret",
                   {{"Name", "idem"}, {"SecretBinary", B64("a")}, {"ClientRequestToken", kToken1}}),
              "ResourceExistsException");
}

TEST_F(SecretsServiceTest, SecretWithoutValueHasNoVersionUntilPutSecretValue) {
  Json created = Ok("CreateSecret", {{"Name", "empty"}, {"Description", "later"}});
  EXPECT_FALSE(created.contains("VersionId"));
  ExpectError(Call("GetSecretValue", {{"SecretId", "empty"}}), "ResourceNotFoundException",
              "Secrets Manager can't find the specified secret value for staging label: "
              "AWSCURRENT");
  // The first version becomes AWSCURRENT even when other labels are asked for.
  Json put = Ok("PutSecretValue",
                {{"SecretId", "empty"}, {"SecretString", "v1"}, {"VersionStages", {"custom"}}});
  EXPECT_THAT(put["VersionStages"].get<std::vector<std::string>>(),
              UnorderedElementsAre("custom", "AWSCURRENT"));
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "empty"}})["SecretString"], "v1");
}

// --- PutSecretValue and staging labels -------------------------------------------------------

TEST_F(SecretsServiceTest, PutSecretValueMovesCurrentAndPrevious) {
  Json v1 = Ok("CreateSecret", {{"Name", "rot"}, {"SecretString", "one"}});
  clock_.Advance(absl::Seconds(10));
  Json v2 = Ok("PutSecretValue", {{"SecretId", "rot"}, {"SecretString", "two"}});
  EXPECT_EQ(v2["VersionStages"], Json::array({"AWSCURRENT"}));
  EXPECT_NE(v2["VersionId"], v1["VersionId"]);
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "rot"}})["SecretString"], "two");
  Json prev = Ok("GetSecretValue", {{"SecretId", "rot"}, {"VersionStage", "AWSPREVIOUS"}});
  EXPECT_EQ(prev["SecretString"], "one");
  EXPECT_EQ(prev["VersionStages"], Json::array({"AWSPREVIOUS"}));

  Json v3 = Ok("PutSecretValue", {{"SecretId", "rot"}, {"SecretBinary", B64("three")}});
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "rot"}})["SecretBinary"], B64("three"));
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "rot"}, {"VersionStage", "AWSPREVIOUS"}})["SecretString"],
      "two");
  // v1 lost its labels: still readable by id, no longer listed with stages.
  Json old = Ok("GetSecretValue", {{"SecretId", "rot"}, {"VersionId", v1["VersionId"]}});
  EXPECT_EQ(old["SecretString"], "one");
  EXPECT_THAT(old["VersionStages"], IsEmpty());
  Json described = Ok("DescribeSecret", {{"SecretId", "rot"}});
  Json expected_stages = {{v2["VersionId"].get<std::string>(), {"AWSPREVIOUS"}},
                          {v3["VersionId"].get<std::string>(), {"AWSCURRENT"}}};
  EXPECT_EQ(described["VersionIdsToStages"], expected_stages);
  EXPECT_DOUBLE_EQ(described["LastChangedDate"].get<double>(), 1700000010.25);
  EXPECT_DOUBLE_EQ(described["CreatedDate"].get<double>(), 1700000000.25);
}

TEST_F(SecretsServiceTest, PutWithOtherLabelsLeavesCurrentInPlace) {
  Ok("CreateSecret", {{"Name", "pend"}, {"SecretString", "live"}});
  Json pending =
      Ok("PutSecretValue",
         {{"SecretId", "pend"}, {"SecretString", "next"}, {"VersionStages", {"AWSPENDING"}}});
  EXPECT_EQ(pending["VersionStages"], Json::array({"AWSPENDING"}));
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "pend"}})["SecretString"], "live");
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "pend"}, {"VersionStage", "AWSPENDING"}})["SecretString"],
      "next");
  ExpectError(Call("GetSecretValue", {{"SecretId", "pend"}, {"VersionStage", "AWSPREVIOUS"}}),
              "ResourceNotFoundException",
              "Secrets Manager can't find the specified secret value for staging label: "
              "AWSPREVIOUS");
  // A label names one version: putting AWSPENDING again moves it.
  Ok("PutSecretValue",
     {{"SecretId", "pend"}, {"SecretString", "newer"}, {"VersionStages", {"AWSPENDING"}}});
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "pend"}, {"VersionStage", "AWSPENDING"}})["SecretString"],
      "newer");
}

TEST_F(SecretsServiceTest, PutWithTheSameTokenIsIdempotentAndCannotChangeAVersion) {
  Ok("CreateSecret", {{"Name", "p"}, {"SecretString", "one"}});
  Json put = Ok("PutSecretValue",
                {{"SecretId", "p"}, {"SecretString", "two"}, {"ClientRequestToken", kToken2}});
  EXPECT_EQ(put["VersionId"], kToken2);
  Json again = Ok("PutSecretValue",
                  {{"SecretId", "p"}, {"SecretString", "two"}, {"ClientRequestToken", kToken2}});
  EXPECT_EQ(again, put);
  // The retry did not rotate AWSPREVIOUS onto the same version.
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "p"}, {"VersionStage", "AWSPREVIOUS"}})["SecretString"],
      "one");
  ExpectError(Call("PutSecretValue",
                   {{"SecretId", "p"}, {"SecretString", "other"}, {"ClientRequestToken", kToken2}}),
              "ResourceExistsException");
}

TEST_F(SecretsServiceTest, PutNeedsExactlyOneValue) {
  Ok("CreateSecret", {{"Name", "p"}, {"SecretString", "one"}});
  ExpectError(Call("PutSecretValue", {{"SecretId", "p"}}), "InvalidRequestException");
  ExpectError(Call("PutSecretValue",
                   {{"SecretId", "p"}, {"SecretString", "a"}, {"SecretBinary", B64("a")}}),
              "InvalidParameterException",
              "You can't specify both a binary secret value and a string secret value in the "
              "same secret.");
}

TEST_F(SecretsServiceTest, VersionIdAndVersionStageMustAgree) {
  Json v1 = Ok("CreateSecret", {{"Name", "vs"}, {"SecretString", "one"}});
  Ok("PutSecretValue", {{"SecretId", "vs"}, {"SecretString", "two"}});
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "vs"},
                                  {"VersionId", v1["VersionId"]},
                                  {"VersionStage", "AWSPREVIOUS"}})["SecretString"],
            "one");
  ExpectError(
      Call("GetSecretValue",
           {{"SecretId", "vs"}, {"VersionId", v1["VersionId"]}, {"VersionStage", "AWSCURRENT"}}),
      "InvalidRequestException");
  ExpectError(Call("GetSecretValue", {{"SecretId", "vs"}, {"VersionId", kToken1}}),
              "ResourceNotFoundException",
              absl::StrCat("Secrets Manager can't find the specified secret value for VersionId: ",
                           kToken1));
}

TEST_F(SecretsServiceTest, OldUnlabelledVersionsAreDroppedBeyondTheVersionQuota) {
  Json first = Ok("CreateSecret", {{"Name", "many"}, {"SecretString", "v0"}});
  for (size_t i = 1; i <= kMaxVersionsPerSecret + 5; ++i) {
    Ok("PutSecretValue", {{"SecretId", "many"}, {"SecretString", absl::StrCat("v", i)}});
  }
  ExpectError(Call("GetSecretValue", {{"SecretId", "many"}, {"VersionId", first["VersionId"]}}),
              "ResourceNotFoundException");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "many"}})["SecretString"],
            absl::StrCat("v", kMaxVersionsPerSecret + 5));
}

// --- DescribeSecret / ListSecrets ----------------------------------------------------------

TEST_F(SecretsServiceTest, DescribeSecretShowsMetadataButNeverTheValue) {
  Ok("CreateSecret",
     {{"Name", "meta"},
      {"SecretString", "canary-value-7f3a"},
      {"Description", "the db password"},
      {"KmsKeyId", "alias/custom"},
      {"Tags", {{{"Key", "team"}, {"Value", "infra"}}, {{"Key", "env"}, {"Value", ""}}}}});
  Json d = Ok("DescribeSecret", {{"SecretId", "meta"}});
  EXPECT_EQ(d["Name"], "meta");
  EXPECT_EQ(d["Description"], "the db password");
  EXPECT_EQ(d["KmsKeyId"], "alias/custom");
  EXPECT_EQ(d["Tags"], Json::parse(R"([{"Key":"team","Value":"infra"},{"Key":"env","Value":""}])"));
  EXPECT_FALSE(d.contains("LastAccessedDate"));
  EXPECT_FALSE(d.contains("DeletedDate"));
  EXPECT_THAT(d.dump(), Not(HasSubstr("canary-value-7f3a")));

  // GetSecretValue records the access, truncated to the day as AWS does.
  Ok("GetSecretValue", {{"SecretId", "meta"}});
  d = Ok("DescribeSecret", {{"SecretId", "meta"}});
  EXPECT_DOUBLE_EQ(d["LastAccessedDate"].get<double>(), 1700000000 / 86400 * 86400);
}

TEST_F(SecretsServiceTest, DescribeOmitsOptionalFieldsThatWereNotGiven) {
  Ok("CreateSecret", {{"Name", "plain"}, {"SecretString", "x"}});
  Json d = Ok("DescribeSecret", {{"SecretId", "plain"}});
  EXPECT_FALSE(d.contains("Description"));
  EXPECT_FALSE(d.contains("KmsKeyId"));
  EXPECT_FALSE(d.contains("Tags"));
}

TEST_F(SecretsServiceTest, ListSecretsPaginatesInCreationOrder) {
  std::vector<std::string> names = {"e", "a", "d", "b", "c"};
  for (const auto& n : names) {
    Ok("CreateSecret", {{"Name", n}, {"SecretString", "v"}});
    clock_.Advance(absl::Seconds(1));
  }
  std::vector<std::string> seen;
  Json req = {{"MaxResults", 2}};
  int pages = 0;
  for (;;) {
    Json page = Ok("ListSecrets", req);
    ++pages;
    EXPECT_LE(page["SecretList"].size(), 2u);
    for (const auto& e : page["SecretList"]) {
      seen.push_back(e["Name"]);
      EXPECT_FALSE(e.contains("SecretString"));
      EXPECT_EQ(e["SecretVersionsToStages"].size(), 1u);
    }
    if (!page.contains("NextToken")) break;
    req["NextToken"] = page["NextToken"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, names);

  Json by_name = Ok("ListSecrets", {{"SortBy", "name"}, {"SortOrder", "desc"}});
  std::vector<std::string> sorted;
  for (const auto& e : by_name["SecretList"]) sorted.push_back(e["Name"]);
  EXPECT_THAT(sorted, ElementsAre("e", "d", "c", "b", "a"));
}

TEST_F(SecretsServiceTest, ListSecretsFiltersByNamePrefixAndTags) {
  Ok("CreateSecret", {{"Name", "prod/a"}, {"Tags", {{{"Key", "team"}, {"Value", "x"}}}}});
  Ok("CreateSecret", {{"Name", "prod/b"}});
  Ok("CreateSecret", {{"Name", "dev/a"}, {"Description", "prod copy"}});
  auto names = [&](const Json& filters) {
    std::vector<std::string> out;
    const Json listed = Ok("ListSecrets", {{"Filters", filters}});
    for (const auto& e : listed["SecretList"]) {
      out.push_back(e["Name"]);
    }
    return out;
  };
  EXPECT_THAT(names(Json::parse(R"([{"Key":"name","Values":["prod/"]}])")),
              UnorderedElementsAre("prod/a", "prod/b"));
  EXPECT_THAT(names(Json::parse(R"([{"Key":"name","Values":["!prod/"]}])")), ElementsAre("dev/a"));
  EXPECT_THAT(names(Json::parse(R"([{"Key":"tag-key","Values":["team"]}])")),
              ElementsAre("prod/a"));
  EXPECT_THAT(names(Json::parse(R"([{"Key":"all","Values":["prod"]}])")),
              UnorderedElementsAre("prod/a", "prod/b", "dev/a"));
  EXPECT_THAT(names(Json::parse(
                  R"([{"Key":"name","Values":["prod/"]},{"Key":"tag-value","Values":["x"]}])")),
              ElementsAre("prod/a"));
}

TEST_F(SecretsServiceTest, ListSecretsRejectsAForgedNextToken) {
  ExpectError(Call("ListSecrets", {{"NextToken", "bm90LWEtdG9rZW4="}}),
              "InvalidNextTokenException");
  ExpectError(Call("ListSecrets", {{"NextToken", "%%%"}}), "InvalidNextTokenException");
  ExpectError(Call("ListSecrets", {{"NextToken", B64("lockout-list-v1:-1")}}),
              "InvalidNextTokenException");
  // A token past the end is an empty page, not an error.
  EXPECT_THAT(Ok("ListSecrets", {{"NextToken", B64("lockout-list-v1:99")}})["SecretList"],
              IsEmpty());
}

// --- DeleteSecret / RestoreSecret ----------------------------------------------------------

TEST_F(SecretsServiceTest, DeletedSecretIsInaccessibleDuringTheRecoveryWindow) {
  Json created = Ok("CreateSecret", {{"Name", "gone"}, {"SecretString", "v"}});
  Json deleted = Ok("DeleteSecret", {{"SecretId", "gone"}, {"RecoveryWindowInDays", 7}});
  EXPECT_EQ(deleted["ARN"], created["ARN"]);
  EXPECT_EQ(deleted["Name"], "gone");
  EXPECT_DOUBLE_EQ(deleted["DeletionDate"].get<double>(), 1700000000.25 + 7 * 86400);

  ExpectError(Call("GetSecretValue", {{"SecretId", "gone"}}), "InvalidRequestException",
              kMarkedForDeletion);
  ExpectError(Call("PutSecretValue", {{"SecretId", "gone"}, {"SecretString", "w"}}),
              "InvalidRequestException", kMarkedForDeletion);
  ExpectError(Call("DeleteSecret", {{"SecretId", "gone"}}), "InvalidRequestException",
              kMarkedForDeletion);
  ExpectError(Call("CreateSecret", {{"Name", "gone"}, {"SecretString", "w"}}),
              "InvalidRequestException",
              "You can't create this secret because a secret with this name is already "
              "scheduled for deletion.");
  // Still describable (that is how DeletedDate is seen); listed only on request.
  EXPECT_DOUBLE_EQ(Ok("DescribeSecret", {{"SecretId", "gone"}})["DeletedDate"].get<double>(),
                   1700000000.25 + 7 * 86400);
  EXPECT_THAT(Ok("ListSecrets", Json::object())["SecretList"], IsEmpty());
  EXPECT_EQ(Ok("ListSecrets", {{"IncludePlannedDeletion", true}})["SecretList"].size(), 1u);

  Json restored = Ok("RestoreSecret", {{"SecretId", "gone"}});
  EXPECT_EQ(restored["ARN"], created["ARN"]);
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "gone"}})["SecretString"], "v");
  EXPECT_FALSE(Ok("DescribeSecret", {{"SecretId", "gone"}}).contains("DeletedDate"));
}

TEST_F(SecretsServiceTest, DefaultRecoveryWindowIsThirtyDaysAndThenTheSecretIsGone) {
  Ok("CreateSecret", {{"Name", "later"}, {"SecretString", "v"}});
  Json deleted = Ok("DeleteSecret", {{"SecretId", "later"}});
  EXPECT_DOUBLE_EQ(deleted["DeletionDate"].get<double>(), 1700000000.25 + 30 * 86400);
  clock_.Advance(absl::Hours(24 * 30) - absl::Seconds(1));
  ExpectError(Call("GetSecretValue", {{"SecretId", "later"}}), "InvalidRequestException");
  clock_.Advance(absl::Seconds(1));
  ExpectError(Call("GetSecretValue", {{"SecretId", "later"}}), "ResourceNotFoundException");
  EXPECT_FALSE(std::filesystem::exists(SecretsStore::Open(dir_.path())->PathFor("later")));
  Ok("CreateSecret", {{"Name", "later"}, {"SecretString", "new"}});
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "later"}})["SecretString"], "new");
}

TEST_F(SecretsServiceTest, ForceDeleteRemovesAtOnceAndTheNameCanBeReused) {
  Json first = Ok("CreateSecret", {{"Name", "f"}, {"SecretString", "old"}});
  Json deleted = Ok("DeleteSecret", {{"SecretId", "f"}, {"ForceDeleteWithoutRecovery", true}});
  EXPECT_DOUBLE_EQ(deleted["DeletionDate"].get<double>(), 1700000000.25);
  ExpectError(Call("GetSecretValue", {{"SecretId", "f"}}), "ResourceNotFoundException", kNotFound);
  ExpectError(Call("DescribeSecret", {{"SecretId", "f"}}), "ResourceNotFoundException");
  Json second = Ok("CreateSecret", {{"Name", "f"}, {"SecretString", "new"}});
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "f"}})["SecretString"], "new");
  // The old full ARN does not reach the new secret (AWS gives it a new suffix).
  if (second["ARN"] != first["ARN"]) {
    ExpectError(Call("GetSecretValue", {{"SecretId", first["ARN"]}}), "ResourceNotFoundException");
  }
}

TEST_F(SecretsServiceTest, ForceDeleteEndsAScheduledDeletion) {
  Ok("CreateSecret", {{"Name", "s"}, {"SecretString", "v"}});
  Ok("DeleteSecret", {{"SecretId", "s"}});
  Ok("DeleteSecret", {{"SecretId", "s"}, {"ForceDeleteWithoutRecovery", true}});
  ExpectError(Call("DescribeSecret", {{"SecretId", "s"}}), "ResourceNotFoundException");
  Ok("CreateSecret", {{"Name", "s"}, {"SecretString", "again"}});
}

TEST_F(SecretsServiceTest, DeleteRejectsBadRecoveryWindows) {
  Ok("CreateSecret", {{"Name", "d"}, {"SecretString", "v"}});
  for (int days : {-1, 0, 6, 31, 365}) {
    ExpectError(Call("DeleteSecret", {{"SecretId", "d"}, {"RecoveryWindowInDays", days}}),
                "InvalidParameterException",
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  }
  ExpectError(
      Call("DeleteSecret",
           {{"SecretId", "d"}, {"RecoveryWindowInDays", 7}, {"ForceDeleteWithoutRecovery", true}}),
      "InvalidParameterException",
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "d"}})["SecretString"], "v");
  Ok("DeleteSecret", {{"SecretId", "d"}, {"RecoveryWindowInDays", 30}});
}

// --- Durability ------------------------------------------------------------------------------

TEST_F(SecretsServiceTest, RestartKeepsEverySecretVersionAndSchedule) {
  std::string blob(4096, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  Ok("CreateSecret", {{"Name", "str"},
                      {"SecretString", "s1"},
                      {"Description", "d"},
                      {"Tags", {{{"Key", "k"}, {"Value", "v"}}}}});
  Ok("PutSecretValue", {{"SecretId", "str"}, {"SecretString", "s2"}});
  Ok("CreateSecret", {{"Name", "bin"}, {"SecretBinary", B64(blob)}});
  Ok("CreateSecret", {{"Name", "doomed"}, {"SecretString", "x"}});
  Ok("DeleteSecret", {{"SecretId", "doomed"}, {"RecoveryWindowInDays", 7}});
  Ok("CreateSecret", {{"Name", "forced"}, {"SecretString", "x"}});
  Ok("DeleteSecret", {{"SecretId", "forced"}, {"ForceDeleteWithoutRecovery", true}});
  Ok("GetSecretValue", {{"SecretId", "bin"}});
  const Json before_str = Ok("DescribeSecret", {{"SecretId", "str"}});
  const Json before_bin = Ok("DescribeSecret", {{"SecretId", "bin"}});
  const Json before_doomed = Ok("DescribeSecret", {{"SecretId", "doomed"}});

  Reopen();
  EXPECT_EQ(Ok("DescribeSecret", {{"SecretId", "str"}}), before_str);
  EXPECT_EQ(Ok("DescribeSecret", {{"SecretId", "bin"}}), before_bin);
  EXPECT_EQ(Ok("DescribeSecret", {{"SecretId", "doomed"}}), before_doomed);
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "str"}})["SecretString"], "s2");
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "str"}, {"VersionStage", "AWSPREVIOUS"}})["SecretString"],
      "s1");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "bin"}})["SecretBinary"], B64(blob));
  ExpectError(Call("GetSecretValue", {{"SecretId", "doomed"}}), "InvalidRequestException");
  ExpectError(Call("DescribeSecret", {{"SecretId", "forced"}}), "ResourceNotFoundException");
  // The ARN (with its random suffix) survives too.
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", before_str["ARN"]}})["Name"], "str");
}

TEST_F(SecretsServiceTest, StateFilesArePrivateAndNamedByTheHashOfTheName) {
  Ok("CreateSecret", {{"Name", "private"}, {"SecretString", "v"}});
  struct stat st;
  ASSERT_EQ(stat(SecretsDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // sha256("private"), computed independently with sha256sum.
  const std::string path =
      SecretsDir() + "/715dc8493c36579a5b116995100f635e3572fdf8703e708ef1a08d943b36774e.json";
  EXPECT_EQ(SecretsStore::Open(dir_.path())->PathFor("private"), path);
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SecretsServiceTest, AFailedWriteIsNotAcknowledgedAndChangesNothing) {
  Ok("CreateSecret", {{"Name", "w"}, {"SecretString", "one"}});
  // Block the atomic write's temp file with a directory of the same name (works even as root).
  const std::string blocker =
      absl::StrCat(SecretsStore::Open(dir_.path())->PathFor("w"), ".tmp.", getpid());
  ASSERT_TRUE(std::filesystem::create_directory(blocker));
  AwsResult r = Call("PutSecretValue", {{"SecretId", "w"}, {"SecretString", "two"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, "InternalServiceError");
  EXPECT_EQ(r.error().status, 500);
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "w"}})["SecretString"], "one");
  ExpectError(Call("GetSecretValue", {{"SecretId", "w"}, {"VersionStage", "AWSPREVIOUS"}}),
              "ResourceNotFoundException");
  AwsResult d = Call("DeleteSecret", {{"SecretId", "w"}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().type, "InternalServiceError");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "w"}})["SecretString"], "one");

  std::filesystem::remove(blocker);
  Ok("PutSecretValue", {{"SecretId", "w"}, {"SecretString", "two"}});
  Reopen();
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "w"}})["SecretString"], "two");
}

TEST_F(SecretsServiceTest, ConcurrentWritersLoseNoVersion) {
  Ok("CreateSecret", {{"Name", "shared"}, {"SecretString", "v"}});
  constexpr int kThreads = 4, kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AwsResult a = Call("PutSecretValue",
                           {{"SecretId", "shared"}, {"SecretString", absl::StrCat(t, "-", i)}});
        AwsResult b = Call("CreateSecret",
                           {{"Name", absl::StrCat("own-", t, "-", i)}, {"SecretString", "x"}});
        EXPECT_TRUE(a.ok() && b.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  Reopen();
  Json listed = Ok("ListSecrets", Json::object());
  EXPECT_EQ(listed["SecretList"].size(), static_cast<size_t>(kThreads * kPerThread + 1));
  // 1 + 40 versions; exactly one AWSCURRENT and one AWSPREVIOUS.
  Json d = Ok("DescribeSecret", {{"SecretId", "shared"}});
  EXPECT_EQ(d["VersionIdsToStages"].size(), 2u);
}

TEST_F(SecretsServiceTest, UpdateSecretWithAValueMakesANewCurrentVersion) {
  Json v1 = Ok("CreateSecret", {{"Name", "up"}, {"SecretString", "one"}});
  clock_.Advance(absl::Seconds(5));
  Json v2 =
      Ok("UpdateSecret", {{"SecretId", "up"}, {"SecretString", "two"}, {"Description", "rotated"}});
  EXPECT_NE(v2["VersionId"], v1["VersionId"]);
  EXPECT_FALSE(v2.contains("VersionStages"));
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "up"}})["SecretString"], "two");
  EXPECT_EQ(
      Ok("GetSecretValue", {{"SecretId", "up"}, {"VersionStage", "AWSPREVIOUS"}})["SecretString"],
      "one");
  EXPECT_EQ(Ok("DescribeSecret", {{"SecretId", "up"}})["Description"], "rotated");
}

TEST_F(SecretsServiceTest, UpdateSecretWithTheCurrentTokenAndValueChangesNothing) {
  Json v1 = Ok("CreateSecret",
               {{"Name", "same"}, {"SecretString", "one"}, {"ClientRequestToken", kToken1}});
  Json again = Ok("UpdateSecret",
                  {{"SecretId", "same"}, {"SecretString", "one"}, {"ClientRequestToken", kToken1}});
  EXPECT_EQ(again["VersionId"], kToken1);
  Json d = Ok("DescribeSecret", {{"SecretId", "same"}});
  EXPECT_EQ(d["VersionIdsToStages"].size(), 1u);
  ExpectError(
      Call("UpdateSecret",
           {{"SecretId", "same"}, {"SecretString", "other"}, {"ClientRequestToken", kToken1}}),
      "ResourceExistsException");
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "same"}})["SecretString"], "one");
}

TEST_F(SecretsServiceTest, UpdateSecretWithoutAValueChangesOnlyMetadata) {
  Ok("CreateSecret", {{"Name", "meta"}, {"SecretString", "v"}});
  Json r =
      Ok("UpdateSecret", {{"SecretId", "meta"}, {"Description", "d"}, {"KmsKeyId", "alias/x"}});
  EXPECT_FALSE(r.contains("VersionId"));
  Json d = Ok("DescribeSecret", {{"SecretId", "meta"}});
  EXPECT_EQ(d["Description"], "d");
  EXPECT_EQ(d["VersionIdsToStages"].size(), 1u);
  ExpectError(Call("UpdateSecret", {{"SecretId", "absent"}, {"Description", "d"}}),
              "ResourceNotFoundException");
  ExpectError(Call("UpdateSecret",
                   {{"SecretId", "meta"}, {"SecretString", "a"}, {"SecretBinary", B64("b")}}),
              "InvalidParameterException");
}

TEST_F(SecretsServiceTest, UpdateSecretNeedsItsOwnPermission) {
  ASSERT_TRUE(
      CallAs(identity_->instance(), "CreateSecret", {{"Name", "own"}, {"SecretString", "v"}}).ok());
  ExpectError(
      CallAs(identity_->instance(), "UpdateSecret", {{"SecretId", "own"}, {"SecretString", "w"}}),
      "AccessDeniedException",
      absl::StrCat("User: ", identity_->instance().arn,
                   " is not authorized to perform: secretsmanager:UpdateSecret on "
                   "resource: own because no identity-based policy allows the "
                   "secretsmanager:UpdateSecret action"));
  EXPECT_TRUE(
      CallAs(identity_->admin(), "UpdateSecret", {{"SecretId", "own"}, {"SecretString", "w"}})
          .ok());
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "own"}})["SecretString"], "w");
}

// --- Authorisation ---------------------------------------------------------------------------

TEST_F(SecretsServiceTest, AdminMayDoEverything) {
  const policy::Principal& admin = identity_->admin();
  for (auto [op, body] : std::vector<std::pair<std::string, Json>>{
           {"CreateSecret", {{"Name", "adm"}, {"SecretString", "v"}}},
           {"GetSecretValue", {{"SecretId", "adm"}}},
           {"PutSecretValue", {{"SecretId", "adm"}, {"SecretString", "w"}}},
           {"DescribeSecret", {{"SecretId", "adm"}}},
           {"ListSecrets", Json::object()},
           {"DeleteSecret", {{"SecretId", "adm"}}},
           {"RestoreSecret", {{"SecretId", "adm"}}}}) {
    AwsResult r = CallAs(admin, op, body);
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().message);
  }
}

TEST_F(SecretsServiceTest, InstanceRoleHasTheTutorialPolicyOnly) {
  // docs/TUTORIAL-AWS.md step 6: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret.
  const policy::Principal& instance = identity_->instance();
  ASSERT_TRUE(CallAs(instance, "CreateSecret", {{"Name", "inst"}, {"SecretString", "v"}}).ok());
  AwsResult got = CallAs(instance, "GetSecretValue", {{"SecretId", "inst"}});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value()["SecretString"], "v");
  // Allowed to read, so an absent secret is reported as absent.
  ExpectError(CallAs(instance, "GetSecretValue", {{"SecretId", "absent"}}),
              "ResourceNotFoundException");
  EXPECT_TRUE(CallAs(instance, "DescribeSecret", {{"SecretId", "inst"}}).ok());
  EXPECT_TRUE(
      CallAs(instance, "PutSecretValue", {{"SecretId", "inst"}, {"SecretString", "w"}}).ok());

  for (auto [op, body] : std::vector<std::pair<std::string, Json>>{
           {"UpdateSecret", {{"SecretId", "inst"}, {"SecretString", "x"}}},
           {"ListSecrets", Json::object()},
           {"DeleteSecret", {{"SecretId", "inst"}}},
           {"RestoreSecret", {{"SecretId", "inst"}}}}) {
    ExpectError(CallAs(instance, op, body), "AccessDeniedException");
  }
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "inst"}})["SecretString"], "w");
}

TEST_F(SecretsServiceTest, AccessDeniedReadsLikeAws) {
  Ok("CreateSecret", {{"Name", "x"}, {"SecretString", "v"}});
  ExpectError(CallAs(identity_->instance(), "DeleteSecret", {{"SecretId", "x"}}),
              "AccessDeniedException",
              absl::StrCat("User: ", identity_->instance().arn,
                           " is not authorized to perform: secretsmanager:DeleteSecret on "
                           "resource: x because no identity-based policy allows the "
                           "secretsmanager:DeleteSecret action"));
}

TEST_F(SecretsServiceTest, UserWithoutPoliciesIsDeniedWithoutLearningWhetherASecretExists) {
  auto stranger = policy::Principal::User("111122223333", "stranger");
  ASSERT_TRUE(stranger.ok());
  Ok("CreateSecret", {{"Name", "exists"}, {"SecretString", "v"}});
  ExpectError(CallAs(*stranger, "GetSecretValue", {{"SecretId", "exists"}}),
              "AccessDeniedException");
  ExpectError(CallAs(*stranger, "GetSecretValue", {{"SecretId", "absent"}}),
              "AccessDeniedException");
  ExpectError(CallAs(*stranger, "CreateSecret", {{"Name", "new"}, {"SecretString", "v"}}),
              "AccessDeniedException");
  ExpectError(Call("DescribeSecret", {{"SecretId", "new"}}), "ResourceNotFoundException");
}

// --- Bad input -------------------------------------------------------------------------------

struct BadInput {
  std::string name;
  std::string op;
  std::string body;  // JSON
  std::string type;
};

class SecretsBadInputTest : public SecretsServiceTest,
                            public ::testing::WithParamInterface<BadInput> {};

TEST_P(SecretsBadInputTest, GetsAnAwsShapedErrorAndTheServiceKeepsServing) {
  Ok("CreateSecret", {{"Name", "existing"}, {"SecretString", "canary-9c1e"}});
  const BadInput& c = GetParam();
  AwsResult r = Call(c.op, Json::parse(c.body));
  ASSERT_FALSE(r.ok()) << r.value().dump();
  EXPECT_EQ(r.error().type, c.type) << r.error().message;
  EXPECT_EQ(r.error().status, 400);
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_THAT(r.error().message, Not(HasSubstr("canary-9c1e")));
  // Nothing changed.
  Json got = Ok("GetSecretValue", {{"SecretId", "existing"}});
  EXPECT_EQ(got["SecretString"], "canary-9c1e");
  EXPECT_EQ(got["VersionStages"], Json::array({"AWSCURRENT"}));
  EXPECT_EQ(Ok("DescribeSecret", {{"SecretId", "existing"}})["VersionIdsToStages"].size(), 1u);
}

std::string Repeat(char c, size_t n) { return std::string(n, c); }

std::vector<BadInput> BadInputs() {
  const std::string big_string = Repeat('a', kMaxSecretValueBytes + 1);
  const std::string big_binary = B64(Repeat('\x01', kMaxSecretValueBytes + 1));
  const std::string ok_binary_limit = B64(Repeat('\x01', kMaxSecretValueBytes));
  (void)ok_binary_limit;
  auto j = [](const Json& v) { return v.dump(); };
  return {
      {"NotAnObject", "CreateSecret", "[1,2]", "SerializationException"},
      {"UnknownOperation", "RotateSecret", j({{"SecretId", "existing"}}),
       "UnknownOperationException"},
      {"CreateMissingName", "CreateSecret", j({{"SecretString", "v"}}), "ValidationException"},
      {"CreateNullName", "CreateSecret", R"({"Name":null,"SecretString":"v"})",
       "ValidationException"},
      {"CreateEmptyName", "CreateSecret", j({{"Name", ""}}), "ValidationException"},
      {"CreateNumericName", "CreateSecret", j({{"Name", 5}}), "SerializationException"},
      {"CreateNameTooLong", "CreateSecret", j({{"Name", Repeat('n', 513)}}), "ValidationException"},
      {"CreateNameWithSpace", "CreateSecret", j({{"Name", "a b"}}), "ValidationException"},
      {"CreateNameWithColon", "CreateSecret", j({{"Name", "a:b"}}), "ValidationException"},
      {"CreateNameWithStar", "CreateSecret", j({{"Name", "a*"}}), "ValidationException"},
      {"CreateNameWithBang", "CreateSecret", j({{"Name", "a!"}}), "ValidationException"},
      {"CreateNameNonAscii", "CreateSecret", j({{"Name", "caf\xc3\xa9"}}), "ValidationException"},
      {"CreateStringNotString", "CreateSecret", j({{"Name", "n"}, {"SecretString", 42}}),
       "SerializationException"},
      {"CreateEmptyString", "CreateSecret", j({{"Name", "n"}, {"SecretString", ""}}),
       "ValidationException"},
      {"CreateStringTooLarge", "CreateSecret", j({{"Name", "n"}, {"SecretString", big_string}}),
       "ValidationException"},
      {"CreateBinaryTooLarge", "CreateSecret", j({{"Name", "n"}, {"SecretBinary", big_binary}}),
       "ValidationException"},
      {"CreateBinaryBadBase64", "CreateSecret", j({{"Name", "n"}, {"SecretBinary", "a$=="}}),
       "SerializationException"},
      {"CreateBinaryUnpadded", "CreateSecret",
       j({{"Name", "n"},
          {"SecretBinary",
           "YWJj"
           "ZA"}}),
       "SerializationException"},
      {"CreateBinaryNotString", "CreateSecret", j({{"Name", "n"}, {"SecretBinary", {1, 2}}}),
       "SerializationException"},
      {"CreateEmptyBinary", "CreateSecret", j({{"Name", "n"}, {"SecretBinary", ""}}),
       "ValidationException"},
      {"CreateBothValues", "CreateSecret",
       j({{"Name", "n"}, {"SecretString", "a"}, {"SecretBinary", B64("a")}}),
       "InvalidParameterException"},
      {"CreateShortToken", "CreateSecret",
       j({{"Name", "n"}, {"SecretString", "a"}, {"ClientRequestToken", Repeat('t', 31)}}),
       "ValidationException"},
      {"CreateLongToken", "CreateSecret",
       j({{"Name", "n"}, {"SecretString", "a"}, {"ClientRequestToken", Repeat('t', 65)}}),
       "ValidationException"},
      {"CreateDescriptionTooLong", "CreateSecret",
       j({{"Name", "n"}, {"Description", Repeat('d', 2049)}}), "ValidationException"},
      {"CreateTagsNotList", "CreateSecret", j({{"Name", "n"}, {"Tags", {{"k", "v"}}}}),
       "SerializationException"},
      {"CreateTagWithoutKey", "CreateSecret", j({{"Name", "n"}, {"Tags", {{{"Value", "v"}}}}}),
       "ValidationException"},
      {"CreateTagValueNumber", "CreateSecret",
       j({{"Name", "n"}, {"Tags", {{{"Key", "k"}, {"Value", 1}}}}}), "SerializationException"},
      {"CreateDuplicateTagKey", "CreateSecret",
       j({{"Name", "n"},
          {"Tags", {{{"Key", "k"}, {"Value", "1"}}, {{"Key", "k"}, {"Value", "2"}}}}}),
       "InvalidParameterException"},
      {"CreateReplica", "CreateSecret",
       j({{"Name", "n"}, {"AddReplicaRegions", {{{"Region", "eu-west-1"}}}}}),
       "InvalidParameterException"},
      {"CreateExisting", "CreateSecret", j({{"Name", "existing"}, {"SecretString", "x"}}),
       "ResourceExistsException"},
      {"GetMissingSecretId", "GetSecretValue", "{}", "ValidationException"},
      {"GetSecretIdNumber", "GetSecretValue", j({{"SecretId", 1}}), "SerializationException"},
      {"GetSecretIdBadChars", "GetSecretValue", j({{"SecretId", "exi sting"}}),
       "ValidationException"},
      {"GetSecretIdTooLong", "GetSecretValue", j({{"SecretId", Repeat('a', 2049)}}),
       "ValidationException"},
      {"GetMalformedArn", "GetSecretValue",
       j({{"SecretId", "arn:aws:kms:us-east-1:111122223333:key/x"}}), "ValidationException"},
      {"GetShortVersionId", "GetSecretValue", j({{"SecretId", "existing"}, {"VersionId", "v1"}}),
       "ValidationException"},
      {"GetEmptyStage", "GetSecretValue", j({{"SecretId", "existing"}, {"VersionStage", ""}}),
       "ValidationException"},
      {"GetStageNumber", "GetSecretValue", j({{"SecretId", "existing"}, {"VersionStage", 1}}),
       "SerializationException"},
      {"PutNoValue", "PutSecretValue", j({{"SecretId", "existing"}}), "InvalidRequestException"},
      {"PutBothValues", "PutSecretValue",
       j({{"SecretId", "existing"}, {"SecretString", "a"}, {"SecretBinary", B64("a")}}),
       "InvalidParameterException"},
      {"PutBadBase64", "PutSecretValue", j({{"SecretId", "existing"}, {"SecretBinary", "!!"}}),
       "SerializationException"},
      {"PutStringTooLarge", "PutSecretValue",
       j({{"SecretId", "existing"}, {"SecretString", big_string}}), "ValidationException"},
      {"PutStagesNotList", "PutSecretValue",
       j({{"SecretId", "existing"}, {"SecretString", "a"}, {"VersionStages", "AWSCURRENT"}}),
       "SerializationException"},
      {"PutStagesEmpty", "PutSecretValue",
       j({{"SecretId", "existing"}, {"SecretString", "a"}, {"VersionStages", Json::array()}}),
       "ValidationException"},
      {"PutStageEmptyString", "PutSecretValue",
       j({{"SecretId", "existing"}, {"SecretString", "a"}, {"VersionStages", {""}}}),
       "ValidationException"},
      {"PutTooManyStages", "PutSecretValue",
       j({{"SecretId", "existing"},
          {"SecretString", "a"},
          {"VersionStages", std::vector<std::string>(21, "L")}}),
       "ValidationException"},
      {"DescribeMissingId", "DescribeSecret", "{}", "ValidationException"},
      {"ListMaxResultsZero", "ListSecrets", j({{"MaxResults", 0}}), "ValidationException"},
      {"ListMaxResultsTooMany", "ListSecrets", j({{"MaxResults", 101}}), "ValidationException"},
      {"ListMaxResultsString", "ListSecrets", j({{"MaxResults", "5"}}), "SerializationException"},
      {"ListBadSortOrder", "ListSecrets", j({{"SortOrder", "up"}}), "ValidationException"},
      {"ListBadSortBy", "ListSecrets", j({{"SortBy", "size"}}), "ValidationException"},
      {"ListBadFilterKey", "ListSecrets",
       j({{"Filters", {{{"Key", "colour"}, {"Values", {"x"}}}}}}), "ValidationException"},
      {"ListFilterWithoutValues", "ListSecrets", j({{"Filters", {{{"Key", "name"}}}}}),
       "InvalidParameterException"},
      {"ListIncludeNotBool", "ListSecrets", j({{"IncludePlannedDeletion", "yes"}}),
       "SerializationException"},
      {"DeleteForceNotBool", "DeleteSecret",
       j({{"SecretId", "existing"}, {"ForceDeleteWithoutRecovery", "yes"}}),
       "SerializationException"},
      {"DeleteWindowNotInt", "DeleteSecret",
       j({{"SecretId", "existing"}, {"RecoveryWindowInDays", "7"}}), "SerializationException"},
      {"DeleteWindowFraction", "DeleteSecret",
       j({{"SecretId", "existing"}, {"RecoveryWindowInDays", 7.5}}), "SerializationException"},
      {"DeleteWindowTooShort", "DeleteSecret",
       j({{"SecretId", "existing"}, {"RecoveryWindowInDays", 6}}), "InvalidParameterException"},
      {"DeleteForceAndWindow", "DeleteSecret",
       j({{"SecretId", "existing"},
          {"RecoveryWindowInDays", 7},
          {"ForceDeleteWithoutRecovery", true}}),
       "InvalidParameterException"},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, SecretsBadInputTest, ::testing::ValuesIn(BadInputs()),
                         [](const ::testing::TestParamInfo<BadInput>& param_info) {
                           return param_info.param.name;
                         });

TEST_F(SecretsServiceTest, ValuesAtTheSizeLimitAreAccepted) {
  Ok("CreateSecret", {{"Name", "big-s"}, {"SecretString", Repeat('s', kMaxSecretValueBytes)}});
  Ok("CreateSecret",
     {{"Name", "big-b"}, {"SecretBinary", B64(Repeat('\x02', kMaxSecretValueBytes))}});
  Ok("CreateSecret", {{"Name", Repeat('n', kMaxSecretNameLength)}});
  Ok("CreateSecret", {{"Name", "all/_+=.@-chars"}});
  Reopen();
  EXPECT_EQ(Ok("GetSecretValue", {{"SecretId", "big-s"}})["SecretString"].get<std::string>().size(),
            kMaxSecretValueBytes);
}

}  // namespace
}  // namespace lockout::localaws

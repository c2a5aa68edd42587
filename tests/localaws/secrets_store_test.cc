#include "src/localaws/secrets_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/file.h"
#include "tests/testing/temp_dir.h"

namespace lockout::localaws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

using ::lockout::testing::TempDir;

constexpr char kArn[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db/pw-AbC123";

SecretRecord SampleRecord() {
  SecretRecord r;
  r.name = "db/pw";
  r.arn = kArn;
  r.description = "d";
  r.kms_key_id = "alias/k";
  r.created = absl::FromUnixMillis(1700000000123);
  r.last_changed = absl::FromUnixMillis(1700000001000);
  r.last_accessed = absl::FromUnixSeconds(1699920000);
  r.deletion_date = absl::FromUnixMillis(1800000000000);
  r.tags = {{"team", "infra"}, {"env", ""}};
  SecretVersion v1;
  v1.id = "11111111-1111-4111-8111-111111111111";
  v1.stages = {"AWSPREVIOUS"};
  v1.created = r.created;
  v1.value = SecretBytes::CopyFrom(std::string_view("old-canary"));
  SecretVersion v2;
  v2.id = "22222222-2222-4222-8222-222222222222";
  v2.stages = {"AWSCURRENT", "custom"};
  v2.created = r.last_changed;
  v2.binary = true;
  v2.value = SecretBytes::CopyFrom(std::string_view("\x00\x01\xff", 3));
  r.versions.push_back(std::move(v1));
  r.versions.push_back(std::move(v2));
  return r;
}

void ExpectSameRecord(const SecretRecord& a, const SecretRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.arn, b.arn);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.kms_key_id, b.kms_key_id);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.last_changed, b.last_changed);
  EXPECT_EQ(a.last_accessed, b.last_accessed);
  EXPECT_EQ(a.deletion_date, b.deletion_date);
  EXPECT_EQ(a.tags, b.tags);
  ASSERT_EQ(a.versions.size(), b.versions.size());
  for (size_t i = 0; i < a.versions.size(); ++i) {
    EXPECT_EQ(a.versions[i].id, b.versions[i].id);
    EXPECT_EQ(a.versions[i].stages, b.versions[i].stages);
    EXPECT_EQ(a.versions[i].created, b.versions[i].created);
    EXPECT_EQ(a.versions[i].binary, b.versions[i].binary);
    EXPECT_TRUE(a.versions[i].value.Equals(b.versions[i].value));
  }
}

TEST(SecretsStoreTest, SerializeThenParseGivesTheSameRecord) {
  SecretRecord r = SampleRecord();
  std::string text = SecretsStore::Serialize(r);
  auto parsed = SecretsStore::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSameRecord(*parsed, r);
}

TEST(SecretsStoreTest, OptionalFieldsMayBeAbsent) {
  SecretRecord r;
  r.name = "n";
  r.arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:n-aaaaaa";
  auto parsed = SecretsStore::Parse(SecretsStore::Serialize(r));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSameRecord(*parsed, r);
}

TEST(SecretsStoreTest, ParseRejectsEveryTruncation) {
  const std::string text = SecretsStore::Serialize(SampleRecord());
  for (size_t n = 0; n < text.size(); ++n) {
    // Trailing whitespace after the closing brace is still the whole document.
    if (text.find_first_not_of(" \n", n) == std::string::npos) break;
    auto parsed = SecretsStore::Parse(std::string_view(text).substr(0, n));
    EXPECT_FALSE(parsed.ok()) << "accepted a prefix of " << n << " bytes";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(SecretsStoreTest, ParseSurvivesBitFlipsAndNeverLeaksValues) {
  const std::string text = SecretsStore::Serialize(SampleRecord());
  size_t accepted = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    for (int bit : {0, 5, 7}) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto parsed = SecretsStore::Parse(flipped);
      if (parsed.ok()) {
        ++accepted;  // e.g. a changed letter inside a description: still a valid record
      } else {
        EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("canary")));
        EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("b2xkLWNhbmFyeQ")));
      }
    }
  }
  EXPECT_LT(accepted, text.size() * 3);
}

// Each case edits one field of a valid serialised record.
struct Mutation {
  std::string name;
  std::function<void(Json&)> edit;
};

class SecretsStoreMutationTest : public ::testing::TestWithParam<Mutation> {};

TEST_P(SecretsStoreMutationTest, ParseRejectsTheDefect) {
  Json j = Json::parse(SecretsStore::Serialize(SampleRecord()));
  GetParam().edit(j);
  auto parsed = SecretsStore::Parse(j.dump());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(
    Defects, SecretsStoreMutationTest,
    ::testing::Values(
        Mutation{"NotAnObject", [](Json& j) { j = Json::array({1}); }},
        Mutation{"UnknownFormat", [](Json& j) { j["format"] = "v2"; }},
        Mutation{"MissingName", [](Json& j) { j.erase("name"); }},
        Mutation{"NameNotString", [](Json& j) { j["name"] = 1; }},
        Mutation{"NameWithBadCharacter", [](Json& j) { j["name"] = "db pw"; }},
        Mutation{"ArnForAnotherName",
                 [](Json& j) {
                   j["arn"] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-AbC123";
                 }},
        Mutation{"ArnWithoutSuffix",
                 [](Json& j) {
                   j["arn"] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db/pw";
                 }},
        Mutation{
            "ArnOfAnotherService",
            [](Json& j) { j["arn"] = "arn:aws:kms:us-east-1:111122223333:secret:db/pw-AbC123"; }},
        Mutation{"CreatedNotInteger", [](Json& j) { j["created_ms"] = "1"; }},
        Mutation{"CreatedMissing", [](Json& j) { j.erase("created_ms"); }},
        Mutation{"DeletionFraction", [](Json& j) { j["deletion_ms"] = 1.5; }},
        Mutation{"TagsNotArray", [](Json& j) { j["tags"] = Json::object(); }},
        Mutation{"TagValueNumber", [](Json& j) { j["tags"][0]["Value"] = 3; }},
        Mutation{"VersionsMissing", [](Json& j) { j.erase("versions"); }},
        Mutation{"VersionNotObject", [](Json& j) { j["versions"][0] = "v"; }},
        Mutation{"VersionIdShort", [](Json& j) { j["versions"][0]["id"] = "short"; }},
        Mutation{"DuplicateVersionId",
                 [](Json& j) { j["versions"][1]["id"] = j["versions"][0]["id"]; }},
        Mutation{"DuplicateStage",
                 [](Json& j) { j["versions"][0]["stages"] = Json::array({"AWSCURRENT"}); }},
        Mutation{"EmptyStage", [](Json& j) { j["versions"][0]["stages"] = Json::array({""}); }},
        Mutation{"UnknownType", [](Json& j) { j["versions"][0]["type"] = "number"; }},
        Mutation{"ValueNotBase64", [](Json& j) { j["versions"][0]["value_b64"] = "@@@@"; }},
        Mutation{"EmptyValue", [](Json& j) { j["versions"][0]["value_b64"] = ""; }},
        Mutation{"ValueTooLarge",
                 [](Json& j) {
                   j["versions"][0]["value_b64"] =
                       std::string((kMaxSecretValueBytes + 3) / 3 * 4, 'A');
                 }},
        Mutation{"TooManyVersions",
                 [](Json& j) {
                   Json v = j["versions"][0];
                   v["stages"] = Json::array();
                   for (size_t i = 0; i < kMaxVersionsPerSecret; ++i) {
                     v["id"] = absl::StrCat("33333333-3333-4333-8333-", 100000000000 + i);
                     j["versions"].push_back(v);
                   }
                 }}),
    [](const ::testing::TestParamInfo<Mutation>& param_info) { return param_info.param.name; });

TEST(SecretsStoreTest, SaveIsDurableAndReopenFindsTheRecord) {
  TempDir dir;
  {
    auto store = SecretsStore::Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(store->Save(SampleRecord()).ok());
    struct stat st;
    ASSERT_EQ(stat(store->PathFor("db/pw").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  auto reopened = SecretsStore::Open(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_NE(reopened->Find("db/pw"), nullptr);
  ExpectSameRecord(*reopened->Find("db/pw"), SampleRecord());
  ASSERT_TRUE(reopened->Remove("db/pw").ok());
  EXPECT_EQ(reopened->Remove("db/pw").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(SecretsStore::Open(dir.path())->records().empty());
}

TEST(SecretsStoreTest, OpenRefusesACorruptRecord) {
  TempDir dir;
  auto store = SecretsStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Save(SampleRecord()).ok());
  const std::string path = store->PathFor("db/pw");
  std::string text = *ReadFileString(path);
  text.resize(text.size() / 2);
  ASSERT_TRUE(
      WriteFileAtomic(path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()))
          .ok());
  auto reopened = SecretsStore::Open(dir.path());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reopened.status().message()), HasSubstr(path));
}

TEST(SecretsStoreTest, OpenRefusesARecordUnderAnotherSecretsFileName) {
  TempDir dir;
  auto store = SecretsStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Save(SampleRecord()).ok());
  std::filesystem::rename(store->PathFor("db/pw"), store->PathFor("other"));
  auto reopened = SecretsStore::Open(dir.path());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretsStoreTest, OpenRemovesTempFilesOfAnInterruptedWriteAndIgnoresOtherFiles) {
  TempDir dir;
  auto store = SecretsStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Save(SampleRecord()).ok());
  const std::string tmp = store->PathFor("db/pw") + ".tmp.12345";
  std::ofstream(tmp) << "{\"half\":";
  std::ofstream(dir.path() + "/secretsmanager/README") << "not a record";
  auto reopened = SecretsStore::Open(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->records().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(tmp));
}

TEST(SecretsStoreTest, SecretNamesFollowCreateSecretsCharacterSet) {
  EXPECT_TRUE(IsValidSecretName("Az09/_+=.@-"));
  EXPECT_TRUE(IsValidSecretName(std::string(kMaxSecretNameLength, 'a')));
  EXPECT_FALSE(IsValidSecretName(""));
  EXPECT_FALSE(IsValidSecretName(std::string(kMaxSecretNameLength + 1, 'a')));
  for (std::string bad : std::vector<std::string>{"a b", "a:b", "a*", "a?", "a!", "a\\b", "a\"b",
                                                  "a\nb", "caf\xc3\xa9", std::string("a\0b", 3)}) {
    EXPECT_FALSE(IsValidSecretName(bad)) << bad;
  }
}

}  // namespace
}  // namespace lockout::localaws

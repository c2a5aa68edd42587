// Runs the built `lockout attest verify` against the real documents.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "tests/attest/attest_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::attest {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

class AttestCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOCKOUT_VECTOR_OR_SKIP(index, "attestation/index.json");
    LOCKOUT_VECTOR_OR_SKIP(root, "attestation/aws-nitro-enclaves-root-g1.pem");
    LOCKOUT_VECTOR_OR_SKIP(nondebug, "attestation/evervault-nondebug-2022-10-13.cbor");
    LOCKOUT_VECTOR_OR_SKIP(b64, "attestation/evervault-ga-debug-2023-09-18.b64");
    testing::LoadRealDocuments(index, &docs_);
    root_ = root;
    nondebug_ = nondebug;
    b64_ = b64;
    binary_ = lockout::testing::BinaryDir() + "/lockout";
    ASSERT_TRUE(std::filesystem::exists(binary_)) << binary_;
    dir_ = ::testing::TempDir() + "/attest_cli_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
  }

  CliRun Lockout(const std::vector<std::string>& args) {
    std::string cmd = Quote(binary_);
    for (const std::string& a : args) cmd += " " + Quote(a);
    const std::string err_path = dir_ + "/stderr";
    cmd += " 2>" + Quote(err_path);
    CliRun run;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
      ADD_FAILURE() << "popen failed";
      return run;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
    int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    absl::StatusOr<std::string> err = ReadFileString(err_path);
    if (err.ok()) run.err = *err;
    return run;
  }

  nlohmann::json Json(const CliRun& run) {
    nlohmann::json j = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << run.out;
    return j;
  }

  const testing::RealDocument& NonDebug() { return docs_[1]; }
  static constexpr char kNonDebugAt[] = "2022-10-13T09:00:00Z";

  std::vector<testing::RealDocument> docs_;
  std::string root_, nondebug_, b64_, binary_, dir_;
};

TEST_F(AttestCliTest, VerifiesARealDocumentAndPrintsItAsJson) {
  CliRun run = Lockout({"attest", "verify", nondebug_, "--root", root_, "--at", kNonDebugAt});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json j = Json(run);
  EXPECT_EQ(j["verified"], true);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["module_id"], NonDebug().facts["module_id"]);
  EXPECT_EQ(j["digest"], "SHA384");
  EXPECT_EQ(j["timestamp_ms"], NonDebug().facts["timestamp_ms"]);
  EXPECT_EQ(j["timestamp"], "2022-10-13T08:58:02.136Z");
  EXPECT_EQ(j["pcrs"], NonDebug().facts["pcrs"]);
  EXPECT_EQ(j["certificate"]["subject"], NonDebug().facts["leaf_cert"]["subject"]);
  EXPECT_EQ(j["certificate"]["not_after"], "2022-10-13T11:58:02.000Z");
  ASSERT_EQ(j["cabundle"].size(), 4u);
  EXPECT_EQ(j["cabundle"][0]["sha256"],
            "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
  EXPECT_TRUE(j["public_key"].is_null());
  EXPECT_EQ(j["nonce"], NonDebug().facts["nonce_hex"]);
}

TEST_F(AttestCliTest, UsesTheEmbeddedAwsRootByDefault) {
  CliRun run = Lockout({"attest", "verify", nondebug_, "--at", kNonDebugAt});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Json(run)["verified"], true);
}

TEST_F(AttestCliTest, ExitsZeroOnlyWhenEveryExpectedPcrMatches) {
  const std::string pcr0 = NonDebug().facts["pcrs"]["0"].get<std::string>();
  const std::string pcr8 = NonDebug().facts["pcrs"]["8"].get<std::string>();
  CliRun ok = Lockout({"attest", "verify", nondebug_, "--at", kNonDebugAt, "--expect-pcr",
                       "0=" + pcr0, "--expect-pcr", "8=0x" + pcr8});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Json(ok)["expectations"].size(), 2u);

  std::string wrong = pcr0;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  CliRun bad = Lockout({"attest", "verify", nondebug_, "--at", kNonDebugAt, "--expect-pcr",
                        "8=" + pcr8, "--expect-pcr", "0=" + wrong});
  EXPECT_EQ(bad.exit_code, 1);
  nlohmann::json j = Json(bad);
  EXPECT_EQ(j["verified"], true);  // the document is fine; the expectation is not
  EXPECT_EQ(j["expectations"][1]["ok"], false);
  EXPECT_NE(bad.err.find("PCR0"), std::string::npos) << bad.err;

  CliRun missing =
      Lockout({"attest", "verify", nondebug_, "--at", kNonDebugAt, "--expect-pcr", "20=" + pcr0});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("PCR20"), std::string::npos) << missing.err;
}

TEST_F(AttestCliTest, AcceptsBase64Input) {
  CliRun run = Lockout({"attest", "verify", b64_, "--at", "2023-09-18T15:03:31Z"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Json(run)["module_id"], docs_[0].facts["module_id"]);

  // Wrapped at 76 columns with a trailing newline, as `base64` writes it.
  std::string wrapped;
  const std::string b64 = Base64Encode(NonDebug().bytes);
  for (size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\n";
  const std::string path = dir_ + "/doc.b64";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes(wrapped), 0644).ok());
  CliRun wrapped_run = Lockout({"attest", "verify", path, "--at", kNonDebugAt});
  EXPECT_EQ(wrapped_run.exit_code, 0) << wrapped_run.err;
}

TEST_F(AttestCliTest, RejectsADocumentOutsideItsWindowWithTheReason) {
  CliRun run = Lockout({"attest", "verify", nondebug_, "--at", "2022-10-13T12:00:00Z"});
  EXPECT_EQ(run.exit_code, 1);
  nlohmann::json j = Json(run);
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["error"]["reason"], "cert_expired");
  EXPECT_EQ(j["module_id"], NonDebug().facts["module_id"]);  // still shown for diagnosis
  EXPECT_NE(run.err.find("rejected"), std::string::npos) << run.err;
}

TEST_F(AttestCliTest, RejectsAFileThatIsNotADocument) {
  const std::string path = dir_ + "/junk";
  ASSERT_TRUE(WriteFileAtomic(path, Bytes{0x84, 0x01, 0x02}, 0644).ok());
  CliRun run = Lockout({"attest", "verify", path});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Json(run)["error"]["reason"], "malformed");

  const std::string bad_b64 = dir_ + "/bad.b64";
  ASSERT_TRUE(WriteFileAtomic(bad_b64, AsBytes("hQ"), 0644).ok());
  EXPECT_EQ(Lockout({"attest", "verify", bad_b64}).exit_code, 1);
}

TEST_F(AttestCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Lockout({"attest", "verify", dir_ + "/does-not-exist"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify", nondebug_, "--at", "yesterday"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify", nondebug_, "--expect-pcr", "0"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify", nondebug_, "--expect-pcr", "32=00"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify", nondebug_, "--expect-pcr", "0=xyz"}).exit_code, 2);
  EXPECT_EQ(Lockout({"attest", "verify", nondebug_, "--root", nondebug_}).exit_code, 2);
}

TEST_F(AttestCliTest, HelpTeachesWithExamples) {
  CliRun run = Lockout({"attest", "verify", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("Examples:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("--expect-pcr"), std::string::npos);
  EXPECT_NE(run.out.find("base64"), std::string::npos);
}

}  // namespace
}  // namespace lockout::attest

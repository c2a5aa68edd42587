#include "src/common/logger.h"

#include <sstream>

#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(LoggerTest, WritesOneJsonObjectPerLine) {
  Logger logger;
  std::ostringstream os;
  logger.SetStream(&os);
  logger.Log(LogLevel::kInfo, "request", {{"op", "sign"}, {"bytes", 32}});
  logger.Log(LogLevel::kError, "failed", {{"why", "has \"quotes\"\nand newline"}});
  std::istringstream lines(os.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("ts"));
    ++count;
    if (count == 1) {
      EXPECT_EQ(j["event"], "request");
      EXPECT_EQ(j["level"], "info");
      EXPECT_EQ(j["op"], "sign");
      EXPECT_EQ(j["bytes"], 32);
    } else {
      EXPECT_EQ(j["level"], "error");
    }
  }
  EXPECT_EQ(count, 2);
}

TEST(LoggerTest, FiltersBelowLevel) {
  Logger logger;
  std::ostringstream os;
  logger.SetStream(&os);
  logger.SetLevel(LogLevel::kWarn);
  logger.Log(LogLevel::kInfo, "quiet");
  EXPECT_TRUE(os.str().empty());
  logger.Log(LogLevel::kWarn, "loud");
  EXPECT_NE(os.str().find("loud"), std::string::npos);
}

TEST(LoggerTest, FormatCharactersAreNotInterpreted) {
  Logger logger;
  std::ostringstream os;
  logger.SetStream(&os);
  logger.Log(LogLevel::kInfo, "braces {} {0}");
  EXPECT_NE(os.str().find("braces {} {0}"), std::string::npos);
}

TEST(LoggerTest, ParsesLevelNames) {
  LogLevel l;
  EXPECT_TRUE(ParseLogLevel("debug", &l));
  EXPECT_EQ(l, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose", &l));
}

}  // namespace
}  // namespace lockout

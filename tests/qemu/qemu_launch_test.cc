#include "src/qemu/qemu_launch.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/qemu/guest_measure.h"

namespace lockout::qemu {
namespace {

using ::testing::HasSubstr;

QemuLaunch Sample() {
  QemuLaunch l;
  l.memory_mib = 512;
  l.cpu_count = 2;
  l.cmdline = "reboot=k panic=1 console=ttyS0 quiet";
  l.nsm_socket = "/tmp/la,dir/nsm.sock";  // a comma, escaped as ",," in QemuOpts
  l.forwards = {{15010, 5010}, {15011, 22}};
  return l;
}

TEST(QemuLaunchTest, ArgumentsParseBackToTheSameLaunch) {
  const QemuLaunch l = Sample();
  ASSERT_TRUE(ValidateLaunch(l).ok());
  const std::vector<std::string> args = QemuArguments(l);
  absl::StatusOr<QemuLaunch> parsed = ParseQemuArguments(args);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, l);
  EXPECT_THAT(args, ::testing::Contains("socket,id=nsm,path=/tmp/la,,dir/nsm.sock,reconnect=1"));
  EXPECT_THAT(args, ::testing::Contains(
                        "user,id=net0,guestfwd=tcp:10.0.2.100:9000-chardev:nsm,"
                        "hostfwd=tcp:127.0.0.1:15010-:5010,hostfwd=tcp:127.0.0.1:15011-:22"));
  EXPECT_THAT(args, ::testing::Contains("/proc/self/fd/4"));
  EXPECT_THAT(args, ::testing::Contains("/proc/self/fd/5"));
}

TEST(QemuLaunchTest, WithoutNsmOrForwards) {
  QemuLaunch l;
  l.cmdline = "console=ttyS0";
  absl::StatusOr<QemuLaunch> parsed = ParseQemuArguments(QemuArguments(l));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, l);
  for (const std::string& a : QemuArguments(l)) EXPECT_THAT(a, ::testing::Not(HasSubstr("nsm")));
}

// Anything a process could add to get the guest's PCRs while controlling the guest is refused.
TEST(QemuLaunchTest, RefusesEveryOtherCommandLine) {
  const std::vector<std::string> good = QemuArguments(Sample());
  std::vector<std::vector<std::string>> bad;
  for (const char* extra : {"-s", "-S", "-monitor", "-qmp", "-gdb", "-device", "-initrd"}) {
    std::vector<std::string> a = good;
    a.push_back(extra);
    a.push_back("x");
    bad.push_back(a);
  }
  {
    std::vector<std::string> a = good;
    a.insert(a.begin(), {"-device", "loader,file=/tmp/evil,addr=0x100000"});
    bad.push_back(a);
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<std::string> a = good;
    a.erase(a.begin() + static_cast<long>(i));
    bad.push_back(a);
    a = good;
    a[i] += "x";
    bad.push_back(a);
  }
  {
    std::vector<std::string> a = good;
    for (std::string& s : a) {
      if (s.starts_with("user,")) s += ",smb=/";
    }
    bad.push_back(a);
  }
  {
    std::vector<std::string> a = good;  // the NSM chardev without the guest's route to it
    for (std::string& s : a) {
      if (s.starts_with("user,")) s = "user,id=net0";
    }
    bad.push_back(a);
  }
  bad.push_back({});
  for (const auto& a : bad) {
    // The cmdline may legitimately end in "x"; everything else must be refused.
    absl::StatusOr<QemuLaunch> parsed = ParseQemuArguments(a);
    if (parsed.ok()) {
      EXPECT_EQ(QemuArguments(*parsed), a) << "accepted a command line it would not write";
      EXPECT_NE(*parsed, Sample());
    }
  }
  size_t refused = 0;
  for (const auto& a : bad) refused += ParseQemuArguments(a).ok() ? size_t{0} : size_t{1};
  EXPECT_GE(refused, bad.size() - 2);  // only "-append <cmdline>x" stays a valid launch
}

TEST(QemuLaunchTest, ValidatesRanges) {
  QemuLaunch l = Sample();
  l.memory_mib = 32;
  EXPECT_FALSE(ValidateLaunch(l).ok());
  l = Sample();
  l.cpu_count = 0;
  EXPECT_FALSE(ValidateLaunch(l).ok());
  l = Sample();
  l.forwards.push_back({15010, 80});
  EXPECT_THAT(std::string(ValidateLaunch(l).message()), HasSubstr("forwarded twice"));
  l = Sample();
  l.nsm_socket = "relative.sock";
  EXPECT_FALSE(ValidateLaunch(l).ok());
  l = Sample();
  l.cmdline.push_back('\0');
  EXPECT_FALSE(ValidateLaunch(l).ok());
}

TEST(QemuLaunchTest, PortForwards) {
  absl::StatusOr<PortForward> f = ParsePortForward("15010:5010");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (PortForward{15010, 5010}));
  for (const char* bad :
       {"", "5010", ":5010", "5010:", "0:1", "1:0", "65536:1", "01:2", "a:b", "1:2:3", "-1:2"}) {
    EXPECT_FALSE(ParsePortForward(bad).ok()) << bad;
  }
}

// A process that is not a QEMU started by run-enclave (this test) gets no guest measurement.
TEST(GuestMeasureTest, RefusesAProcessNotStartedByRunEnclave) {
  absl::StatusOr<GuestMeasurement> m = MeasureGuest(::getpid(), "/tmp/nsm.sock");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(m.status())) << m.status();
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("not started by lockout run-enclave"));
}

TEST(GuestMeasureTest, NoSuchProcess) {
  EXPECT_FALSE(MeasureGuest(0x7ffffff0, "/tmp/nsm.sock").ok());
}

}  // namespace
}  // namespace lockout::qemu

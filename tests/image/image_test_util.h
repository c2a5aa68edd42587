#pragma once

// Helpers for the image tests that share no code with src/image/: an independent newc cpio
// reader (field by field from the format, not from cpio_writer.cc) and a synthetic blobs
// directory (a fake bzImage whose setup header carries a version string: measuring an image does
// not need a bootable kernel).

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/bytes.h"

namespace lockout::image::testutil {

struct CpioEntry {
  uint32_t ino = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint32_t mtime = 0;
  uint32_t devmajor = 0;
  uint32_t devminor = 0;
  uint32_t rdevmajor = 0;
  uint32_t rdevminor = 0;
  uint32_t check = 0;
  std::string name;
  std::string data;
};

// Parses a whole newc archive up to and including its trailer; fails the test on any format
// error. `end` receives the offset just after the trailer.
inline std::vector<CpioEntry> ReadNewc(const Bytes& archive, size_t* end = nullptr) {
  std::vector<CpioEntry> out;
  size_t off = 0;
  auto field = [&](size_t at) -> uint32_t {
    return static_cast<uint32_t>(
        std::stoul(std::string(archive.begin() + static_cast<long>(at),
                               archive.begin() + static_cast<long>(at + 8)),
                   nullptr, 16));
  };
  while (true) {
    if (off + 110 > archive.size()) {
      ADD_FAILURE() << "truncated header at " << off;
      return out;
    }
    EXPECT_EQ(std::string(archive.begin() + static_cast<long>(off),
                          archive.begin() + static_cast<long>(off + 6)),
              "070701");
    CpioEntry e;
    e.ino = field(off + 6);
    e.mode = field(off + 14);
    e.uid = field(off + 22);
    e.gid = field(off + 30);
    e.nlink = field(off + 38);
    e.mtime = field(off + 46);
    const uint32_t size = field(off + 54);
    e.devmajor = field(off + 62);
    e.devminor = field(off + 70);
    e.rdevmajor = field(off + 78);
    e.rdevminor = field(off + 86);
    const uint32_t namesize = field(off + 94);
    e.check = field(off + 102);
    size_t p = off + 110;
    e.name.assign(archive.begin() + static_cast<long>(p),
                  archive.begin() + static_cast<long>(p + namesize - 1));
    EXPECT_EQ(archive[p + namesize - 1], 0) << e.name;
    p = (p + namesize + 3) & ~size_t{3};
    e.data.assign(archive.begin() + static_cast<long>(p),
                  archive.begin() + static_cast<long>(p + size));
    off = (p + size + 3) & ~size_t{3};
    out.push_back(e);
    if (e.name == "TRAILER!!!") break;
  }
  if (end != nullptr) *end = off;
  return out;
}

inline void WriteTestFile(const std::string& path, std::string_view content, mode_t mode = 0644) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  f.close();
  chmod(path.c_str(), mode);
}

// A 4 KiB "bzImage": boot flag, "HdrS", protocol 2.15 and a kernel_version string.
inline std::string FakeBzImage(std::string_view version_line) {
  std::string k(4096, '\0');
  k[0x1FE] = '\x55';
  k[0x1FF] = '\xAA';
  k.replace(0x202, 4, "HdrS");
  k[0x206] = '\x0f';
  k[0x207] = '\x02';
  k[0x20E] = '\x00';  // kernel_version = 0x300 -> string at 0x500
  k[0x20F] = '\x03';
  k.replace(0x500, version_line.size(), version_line);
  return k;
}

inline constexpr char kAwsCmdline[] =
    "reboot=k panic=30 pci=off nomodules console=ttyS0 i8042.noaux i8042.nomux i8042.nopnp "
    "i8042.dumbkbd random.trust_cpu=on\n";

// Writes bzImage, cmdline, init, nsm.ko (and bzImage.config when `config` is non-empty).
inline void WriteFakeBlobs(const std::string& dir, std::string_view config = "") {
  mkdir(dir.c_str(), 0755);
  WriteTestFile(dir + "/bzImage", FakeBzImage("6.1.0-lockout-test (test@lockout) #1 SMP"));
  WriteTestFile(dir + "/cmdline", kAwsCmdline);
  WriteTestFile(dir + "/init", "#!init\n", 0755);
  WriteTestFile(dir + "/nsm.ko", "nsm\n");
  if (!config.empty()) WriteTestFile(dir + "/bzImage.config", config);
}

}  // namespace lockout::image::testutil

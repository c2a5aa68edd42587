#include "src/measure/process_image.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::measure {
namespace {

using ::testing::HasSubstr;

constexpr FileId kExe{0xfe, 0, 1000};

Mapping Code(std::string path, uint64_t inode, uint64_t anonymous_kb = 0) {
  Mapping m;
  m.start = 0x1000 * inode;
  m.end = m.start + 0x1000;
  m.readable = true;
  m.executable = true;
  m.dev_major = 0xfe;
  m.inode = inode;
  m.path = std::move(path);
  m.anonymous_kb = anonymous_kb;
  return m;
}

// A file system of root-owned libraries, plus whatever a test adds.
struct FakeFiles {
  std::map<std::string, FileOwner> files = {
      {"/usr/lib/x86_64-linux-gnu/libc.so.6", {FileId{0xfe, 0, 2000}, 0, S_IFREG | 0755}},
      {"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
       {FileId{0xfe, 0, 2001}, 0, S_IFREG | 0755}},
  };
  StatFn fn() const {
    return [this](const std::string& path) -> absl::StatusOr<FileOwner> {
      auto it = files.find(path);
      if (it == files.end()) return absl::NotFoundError(path);
      return it->second;
    };
  }
};

std::vector<Mapping> Genuine() {
  Mapping data = Code("/build/lockout-enclave", 1000);
  data.executable = false;
  Mapping heap;
  heap.path = "[heap]";
  heap.readable = heap.writable = true;
  Mapping vdso = Code("[vdso]", 0);
  return {data,
          Code("/build/lockout-enclave", 1000),
          heap,
          Code("/usr/lib/x86_64-linux-gnu/libc.so.6", 2000),
          Code("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 2001),
          vdso};
}

TEST(CheckMappingsTest, TheExecutableAndRootOwnedLibrariesPass) {
  FakeFiles fs;
  EXPECT_TRUE(CheckMappings(Genuine(), kExe, fs.fn()).ok());
}

absl::Status WithExtra(const Mapping& extra, FakeFiles& fs) {
  std::vector<Mapping> maps = Genuine();
  maps.push_back(extra);
  return CheckMappings(maps, kExe, fs.fn());
}

TEST(CheckMappingsTest, AUserOwnedLibraryIsRefusedNamingIt) {
  FakeFiles fs;
  fs.files["/home/u/evil.so"] = {FileId{0xfe, 0, 3000}, 1000, S_IFREG | 0755};
  absl::Status s = WithExtra(Code("/home/u/evil.so", 3000), fs);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/home/u/evil.so"));
}

TEST(CheckMappingsTest, ARootOwnedLibraryOutsideTheSystemLibraryDirectoriesIsRefused) {
  // What a process run as root creates anywhere: a build tree, /tmp, /usr/local/lib.
  for (const char* path : {"/work/build/evil.so", "/tmp/evil.so", "/usr/local/lib/evil.so",
                           "/usr/libexec/evil.so", "/usr/lib"}) {
    FakeFiles fs;
    fs.files[path] = {FileId{0xfe, 0, 3000}, 0, S_IFREG | 0755};
    EXPECT_EQ(WithExtra(Code(path, 3000), fs).code(), absl::StatusCode::kFailedPrecondition)
        << path;
  }
}

TEST(CheckMappingsTest, ARootOwnedButWorldOrGroupWritableLibraryIsRefused) {
  for (uint32_t mode : {0757u, 0775u}) {
    FakeFiles fs;
    fs.files["/usr/lib/odd.so"] = {FileId{0xfe, 0, 3000}, 0, S_IFREG | mode};
    EXPECT_EQ(WithExtra(Code("/usr/lib/odd.so", 3000), fs).code(),
              absl::StatusCode::kFailedPrecondition)
        << std::oct << mode;
  }
}

TEST(CheckMappingsTest, ALibraryReplacedSinceItWasMappedIsRefused) {
  FakeFiles fs;
  // The path now names another inode than the one mapped, or nothing at all.
  fs.files["/usr/lib/x86_64-linux-gnu/libc.so.6"].id.inode = 2999;
  EXPECT_EQ(CheckMappings(Genuine(), kExe, fs.fn()).code(), absl::StatusCode::kFailedPrecondition);
  fs.files.erase("/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(CheckMappings(Genuine(), kExe, fs.fn()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CheckMappingsTest, AnonymousMemfdDeletedAndWritableCodeAreRefused) {
  FakeFiles fs;
  Mapping anon = Code("", 0);
  Mapping named_anon = Code("[anon:jit]", 0);
  Mapping heap = Code("[heap]", 0);
  Mapping memfd = Code("/memfd:payload (deleted)", 4000);
  Mapping deleted = Code("/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)", 2000);
  Mapping wx = Code("/usr/lib/x86_64-linux-gnu/libc.so.6", 2000);
  wx.writable = true;
  for (const Mapping& m : {anon, named_anon, heap, memfd, deleted, wx}) {
    EXPECT_EQ(WithExtra(m, fs).code(), absl::StatusCode::kFailedPrecondition) << m.path;
  }
}

TEST(CheckMappingsTest, CodePatchedInMemoryIsRefusedEvenInTheExecutable) {
  FakeFiles fs;
  std::vector<Mapping> maps = Genuine();
  maps[1].anonymous_kb = 4;
  absl::Status s = CheckMappings(maps, kExe, fs.fn());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("changed in memory"));
}

TEST(CheckMappingsTest, TheExecutableMustBeMappedAsCode) {
  FakeFiles fs;
  std::vector<Mapping> maps = Genuine();
  maps.erase(maps.begin() + 1);
  EXPECT_EQ(CheckMappings(maps, kExe, fs.fn()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CheckMappingsTest, StatErrorsOtherThanNotFoundArePassedOn) {
  const StatFn denied = [](const std::string& path) -> absl::StatusOr<FileOwner> {
    return absl::PermissionDeniedError(path);
  };
  EXPECT_EQ(CheckMappings(Genuine(), kExe, denied).code(), absl::StatusCode::kPermissionDenied);
}

TEST(CheckEnvironmentTest, LoaderVariablesAreRefusedByNameWithoutTheirValues) {
  for (const char* entry : {"LD_PRELOAD=/tmp/secret-value.so", "LD_AUDIT=/tmp/secret-value.so",
                            "LD_LIBRARY_PATH=/tmp/secret-value", "LD_ANYTHING_ELSE=secret-value",
                            "LD_=secret-value", "GCONV_PATH=/tmp/secret-value", "LD_PRELOAD"}) {
    absl::Status s = CheckEnvironment({"HOME=/home/u", entry});
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << entry;
    EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("secret-value"))) << entry;
  }
}

TEST(CheckEnvironmentTest, OtherVariablesPass) {
  EXPECT_TRUE(CheckEnvironment({"HOME=/h", "OLD_PRELOAD=x", "XLD_PRELOAD=x", "=x", "ld_preload=x",
                                "GCONV_PATHS=x", "PATH=/usr/bin"})
                  .ok());
  EXPECT_TRUE(CheckEnvironment({}).ok());
}

TEST(CheckTracerTest, ATracedProcessIsRefused) {
  EXPECT_TRUE(CheckTracer(0).ok());
  EXPECT_EQ(CheckTracer(77).code(), absl::StatusCode::kFailedPrecondition);
}

// This test binary: run without loader variables, preloads or a debugger, it passes.
TEST(ProcessImageTest, ThisProcessIsReadAndPasses) {
  absl::StatusOr<ProcessImage> image = ReadProcessImage(::getpid());
  ASSERT_TRUE(image.ok()) << image.status();
  struct stat st {};
  ASSERT_EQ(::stat("/proc/self/exe", &st), 0);
  const FileId exe{major(st.st_dev), minor(st.st_dev), st.st_ino};
  const StatFn stat_fn = [](const std::string& path) { return StatInRootOf(::getpid(), path); };
  EXPECT_TRUE(CheckProcessImage(*image, exe, stat_fn).ok())
      << CheckProcessImage(*image, exe, stat_fn);
  EXPECT_EQ(*ReadStartTime(::getpid()), image->start_time);
}

// A page of code rewritten in memory (with the bytes it had: what counts is the private copy)
// and made read-only-executable again, as a preload that patches and hides itself would leave it.
__attribute__((noinline)) int PatchedFunction(int x) { return x * 3 + 1; }

TEST(ProcessImageTest, CodePatchedInMemoryIsSeenInARealProcess) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const long page = ::sysconf(_SC_PAGESIZE);
    auto* code = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(&PatchedFunction) &
                                            ~static_cast<uintptr_t>(page - 1));
    int ok = ::mprotect(code, static_cast<size_t>(page), PROT_READ | PROT_WRITE | PROT_EXEC) == 0;
    if (ok) {
      volatile uint8_t* p = code;
      p[0] = p[0];  // the same byte: the page is now a private copy
      ok = ::mprotect(code, static_cast<size_t>(page), PROT_READ | PROT_EXEC) == 0;
    }
    const char c = ok ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  absl::StatusOr<ProcessImage> image = ReadProcessImage(child);
  struct stat st {};
  ASSERT_EQ(::stat("/proc/self/exe", &st), 0);
  const FileId exe{major(st.st_dev), minor(st.st_dev), st.st_ino};
  const StatFn stat_fn = [child](const std::string& path) { return StatInRootOf(child, path); };
  absl::Status checked = image.ok() ? CheckProcessImage(*image, exe, stat_fn) : image.status();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(checked.code(), absl::StatusCode::kFailedPrecondition) << checked;
  EXPECT_THAT(std::string(checked.message()), HasSubstr("changed in memory"));
}

TEST(ProcessImageTest, ANonexistentProcessIsNotFound) {
  // pid_max is at most 2^22 on Linux.
  EXPECT_EQ(ReadProcessImage(static_cast<pid_t>(1 << 23)).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lockout::measure

// Hostile cache entries and signals (issue #14): an ill-typed record field, a record or cubin that is
// a directory, a FIFO or a link to /dev/zero, a 1 GiB sparse cubin: each is a corrupt entry, found
// without reading more than the stated bound, warned about naming the file, rebuilt, never fatal.
// And AtomicFile's temp file is removed when the process gets SIGTERM / SIGINT during a write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/jit/atomic_file.h"
#include "runtime/jit/cache.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/safe_file.h"

namespace fs = std::filesystem;
using namespace moga::jit;

namespace {

const std::string kSource = R"(
extern "C" __global__ void jit_robust_k(int n, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 2.f * y[i];
}
)";

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_all(const std::string& p, const std::string& d) { std::ofstream(p, std::ios::binary | std::ios::trunc) << d; }

class jit_robust : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("MOGA_CACHE_DIR")) saved_ = old, had_ = true;
    char tmpl[] = "/tmp/moga-jit-robust-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    setenv("MOGA_CACHE_DIR", dir_.c_str(), 1);
    o_.arch = "sm_90";
    o_.name = "jit_robust_k";
  }
  void TearDown() override {
    if (had_) setenv("MOGA_CACHE_DIR", saved_.c_str(), 1);
    else unsetenv("MOGA_CACHE_DIR");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Builds a good entry, damages it, and expects: load() refuses quickly without throwing, the next
  // compile warns naming the record, rebuilds the same bytes and repairs the entry.
  void expect_rebuilt(const std::string& what, const std::function<void(const cache::Entry&)>& damage) {
    SCOPED_TRACE(what);
    const CompiledKernel good = compile(kSource, o_);
    const cache::Entry e = cache::entry_for(fs::path(good.cache_path).parent_path().string(), o_.name, good.hash);
    damage(e);
    std::string why;
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<std::vector<char>> got;
    EXPECT_NO_THROW(got = cache::load(e, &why));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0) << "read too much";
    EXPECT_FALSE(got.has_value()) << "damage not detected";
    EXPECT_NE(why, "missing");
    testing::internal::CaptureStderr();
    CompiledKernel rebuilt;
    EXPECT_NO_THROW(rebuilt = compile(kSource, o_));
    const std::string warn = testing::internal::GetCapturedStderr();
    EXPECT_NE(warn.find("warning: cache entry " + e.record_path), std::string::npos) << warn;
    EXPECT_FALSE(rebuilt.cache_hit);
    EXPECT_EQ(rebuilt.cubin, good.cubin);
    EXPECT_TRUE(cache::load(e).has_value()) << "not repaired";
    EXPECT_TRUE(compile(kSource, o_).cache_hit);
  }
  static void edit_record(const cache::Entry& e, const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json j = nlohmann::json::parse(read_all(e.record_path));
    f(j);
    write_all(e.record_path, j.dump(2));
  }
  std::string dir_, saved_;
  bool had_ = false;
  CompileOptions o_;
};

}  // namespace

TEST_F(jit_robust, IllTypedRecordFieldsAreCorruptNotFatal) {
  expect_rebuilt("bytes as a string", [](const cache::Entry& e) {
    edit_record(e, [](nlohmann::json& j) { j["bytes"] = std::to_string(j["bytes"].get<uint64_t>()); });
  });
  expect_rebuilt("negative bytes", [](const cache::Entry& e) { edit_record(e, [](nlohmann::json& j) { j["bytes"] = -1; }); });
  expect_rebuilt("format as a string", [](const cache::Entry& e) { edit_record(e, [](nlohmann::json& j) { j["format"] = "1"; }); });
  expect_rebuilt("hash as a number", [](const cache::Entry& e) { edit_record(e, [](nlohmann::json& j) { j["hash"] = 5; }); });
  expect_rebuilt("xxh3 null", [](const cache::Entry& e) { edit_record(e, [](nlohmann::json& j) { j["xxh3"] = nullptr; }); });
  expect_rebuilt("lowered a list", [](const cache::Entry& e) {
    edit_record(e, [](nlohmann::json& j) { j["lowered"] = nlohmann::json::array({1}); });
  });
  expect_rebuilt("record an array", [](const cache::Entry& e) { write_all(e.record_path, "[1, 2]"); });
}

TEST_F(jit_robust, SpecialFilesAndHugeCubinsAreRefusedBeforeReading) {
  expect_rebuilt("cubin -> /dev/zero", [](const cache::Entry& e) {
    fs::remove(e.cubin_path);
    fs::create_symlink("/dev/zero", e.cubin_path);
  });
  expect_rebuilt("1 GiB sparse cubin", [](const cache::Entry& e) { fs::resize_file(e.cubin_path, 1ull << 30); });
  expect_rebuilt("cubin is a directory", [](const cache::Entry& e) {
    fs::remove(e.cubin_path);
    fs::create_directories(e.cubin_path + "/inside");
  });
  expect_rebuilt("record is a directory", [](const cache::Entry& e) {
    fs::remove(e.record_path);
    fs::create_directories(e.record_path);
  });
  expect_rebuilt("record is a FIFO", [](const cache::Entry& e) {
    fs::remove(e.record_path);
    ASSERT_EQ(::mkfifo(e.record_path.c_str(), 0600), 0);
  });
  // The bounds, stated: a record over 1 MiB is refused by stat alone.
  expect_rebuilt("2 MiB record", [](const cache::Entry& e) { fs::resize_file(e.record_path, 2u << 20); });
}

TEST(jit_safe_file, RefusesWhatIsNotARegularFileOfBoundedSize) {
  char tmpl[] = "/tmp/moga-safe-file-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string d = tmpl;
  write_all(d + "/f", "hello");
  FileBytes b = read_regular_file(d + "/f", 5);
  EXPECT_EQ(b.status, RegularFile::Status::Ok);
  EXPECT_EQ(b.data, "hello");
  b = read_regular_file(d + "/f", 4);
  EXPECT_EQ(b.status, RegularFile::Status::TooLarge);
  EXPECT_NE(b.why.find("5 bytes"), std::string::npos) << b.why;
  EXPECT_EQ(read_regular_file(d + "/none", 10).status, RegularFile::Status::Missing);
  b = read_regular_file(d, 10);
  EXPECT_EQ(b.status, RegularFile::Status::NotRegular);
  EXPECT_NE(b.why.find("directory"), std::string::npos) << b.why;
  ASSERT_EQ(::mkfifo((d + "/p").c_str(), 0600), 0);
  b = read_regular_file(d + "/p", 10);  // stat first: never opened, never blocks
  EXPECT_EQ(b.status, RegularFile::Status::NotRegular);
  EXPECT_NE(b.why.find("FIFO"), std::string::npos) << b.why;
  b = read_regular_file("/dev/zero", 1 << 20);
  EXPECT_NE(b.why.find("character device"), std::string::npos) << b.why;
  fs::remove_all(d);
}

// ---- signals ----------------------------------------------------------------------------------------

namespace {
// A child writes part of a file through AtomicFile, reports its temp path, and waits; the parent
// sends `sig`. Returns how the child ended; *left lists the files left in the folder.
int kill_during_write(int sig, const std::string& dir, std::vector<std::string>* left) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    AtomicFile f(dir + "/out.bin");
    f.write("partial", 7);
    const char ok = registered_temp_files() == 1 ? 'y' : 'n';
    (void)!::write(fds[1], &ok, 1);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ok = 0;
  (void)!::read(fds[0], &ok, 1);
  ::close(fds[0]);
  ::kill(pid, sig);
  int st = 0;
  ::waitpid(pid, &st, 0);
  for (const auto& e : fs::directory_iterator(dir)) left->push_back(e.path().filename().string());
  return ok == 'y' ? st : -2;
}
}  // namespace

TEST(jit_atomic_file, SignalDuringAWriteRemovesTheTempFile) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    SCOPED_TRACE(sig);
    char tmpl[] = "/tmp/moga-atomic-sig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::vector<std::string> left;
    const int st = kill_during_write(sig, tmpl, &left);
    ASSERT_NE(st, -2) << "the temp file was not registered";
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == sig) << "the child must still die of the signal (status " << st << ")";
    EXPECT_TRUE(left.empty()) << "left behind: " << (left.empty() ? "" : left[0]);
    fs::remove_all(tmpl);
  }
  // A committed file stays and is no longer registered; an abandoned one is removed and unregistered.
  char tmpl[] = "/tmp/moga-atomic-sig-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const int before = registered_temp_files();
  {
    AtomicFile f(std::string(tmpl) + "/a");
    f.write("x", 1);
    EXPECT_EQ(registered_temp_files(), before + 1);
    f.commit();
    EXPECT_EQ(registered_temp_files(), before);
  }
  { AtomicFile g(std::string(tmpl) + "/b"); }
  EXPECT_EQ(registered_temp_files(), before);
  EXPECT_TRUE(fs::exists(std::string(tmpl) + "/a"));
  EXPECT_FALSE(fs::exists(std::string(tmpl) + "/b"));
  fs::remove_all(tmpl);
}

// runtime/tune/{key,db}.h without a GPU: key stability (same inputs -> same key, in this process and
// another; every field changes it), the file layout, round trips, corrupt and truncated files
// detected and rebuilt, merging saves, and several processes saving at once (fork).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runtime/jit/xxh3.h"
#include "runtime/tune/db.h"
#include "runtime/tune/key.h"
#include "runtime/tune/space.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace moga::tune;

namespace {

DbKey sample_key() {
  DbKey k;
  k.pattern = "moga";
  k.kernel = "stga";
  k.pattern_hash = "0123456789abcdef";
  k.bucket = ShapeBucket::of(Shape::seq(1, 4000, 16, 128));
  k.arch = "sm_90";
  k.versions = {"0.1.0", "13.0", "13.0", "feedfacecafebeef"};
  return k;
}

Result ok_result(double ms) {
  Result r;
  r.status = Status::Ok;
  r.ms = ms;
  r.min_ms = ms * 0.9;
  r.max_ms = ms * 1.1;
  r.runs = 20;
  r.flops = 1.25e12;
  r.regs = 168;
  r.smem_bytes = 98304;
  r.shape = "B=1 N=4000 H=16 D=128";
  r.device = "NVIDIA H100 80GB HBM3";
  r.when = "2025-01-01T00:00:00Z";
  return r;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

class TuneDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moga-tune-db-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TuneDb make_db() {
    TuneDb db(dir_ + "/tune");
    db.on_warning = [this](const std::string& w) { warnings_.push_back(w); };
    return db;
  }
  std::string dir_;
  std::vector<std::string> warnings_;
};

}  // namespace

// ---- the key ------------------------------------------------------------------------------------------

TEST(TuneKey, BucketRoundsNUpToAPowerOfTwo) {
  EXPECT_EQ(round_up_pow2(1), 1);
  EXPECT_EQ(round_up_pow2(4000), 4096);
  EXPECT_EQ(round_up_pow2(4096), 4096);
  EXPECT_EQ(round_up_pow2(4097), 8192);
  EXPECT_EQ(round_up_pow2(32760), 32768);
  const ShapeBucket b = ShapeBucket::of(Shape::make_video(2, 21, 30, 52, 12, 64));
  EXPECT_EQ(b.slug(), "N32768-B2-H12-D64");
}

TEST(TuneKey, SameInputsSameKeyAcrossRunsAndProcesses) {
  const DbKey k = sample_key();
  EXPECT_EQ(k.hash(), sample_key().hash());
  EXPECT_EQ(k.relative_path(), sample_key().relative_path());
  // Pinned: a key must not change between builds or runs, or every tuned result is lost. (If this
  // fails after a deliberate format change, bump kDbFormat's number and update the value.)
  EXPECT_EQ(k.hash(), "9d1ed9dddbe63fca") << "pinned key hash changed";
  EXPECT_EQ(k.relative_path(), "sm_90/moga.stga-0123456789abcdef/N4096-B1-H16-D128." + k.versions_tag() + ".json");

  // Another process computes the same key.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string h = sample_key().hash();
    (void)!write(fds[1], h.data(), h.size());
    _exit(0);
  }
  close(fds[1]);
  char buf[64] = {};
  const ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), k.hash());
}

TEST(TuneKey, EveryFieldChangesTheKey) {
  const DbKey base = sample_key();
  const std::vector<std::pair<const char*, std::function<void(DbKey&)>>> edits = {
      {"pattern hash", [](DbKey& k) { k.pattern_hash = "0123456789abcdee"; }},
      {"kernel", [](DbKey& k) { k.kernel = "dynamic"; }},
      {"N bucket", [](DbKey& k) { k.bucket.N = 8192; }},
      {"B", [](DbKey& k) { k.bucket.B = 2; }},
      {"H", [](DbKey& k) { k.bucket.H = 12; }},
      {"D", [](DbKey& k) { k.bucket.D = 64; }},
      {"arch", [](DbKey& k) { k.arch = "sm_100"; }},
      {"moga version", [](DbKey& k) { k.versions.moga = "0.1.1"; }},
      {"nvrtc version", [](DbKey& k) { k.versions.nvrtc = "12.8"; }},
      {"driver version", [](DbKey& k) { k.versions.driver = "12.9"; }},
      {"templates", [](DbKey& k) { k.versions.templates = "feedfacecafebeee"; }},
  };
  std::set<std::string> hashes{base.hash()}, paths{base.relative_path()};
  for (const auto& [what, edit] : edits) {
    DbKey k = base;
    edit(k);
    EXPECT_NE(k.hash(), base.hash()) << what;
    EXPECT_NE(k.relative_path(), base.relative_path()) << what;
    EXPECT_FALSE(k.same_identity(base)) << what;
    hashes.insert(k.hash());
    paths.insert(k.relative_path());
  }
  EXPECT_EQ(hashes.size(), edits.size() + 1);
  EXPECT_EQ(paths.size(), edits.size() + 1);
  // N inside one bucket does not.
  DbKey same = base;
  same.bucket = ShapeBucket::of(Shape::seq(1, 3000, 16, 128));
  EXPECT_EQ(same.hash(), base.hash());
}

TEST(TuneKey, LongNamesKeepTheHashInTheFolderName) {
  DbKey k = sample_key();
  k.pattern = std::string(80, 'p');
  k.kernel = "a/b c";
  const std::string dir = k.kernel_dir();
  EXPECT_NE(dir.find("-0123456789abcdef"), std::string::npos) << dir;
  EXPECT_EQ(dir.find(' '), std::string::npos);
  EXPECT_EQ(dir.find("a/b"), std::string::npos);
}

// ---- the database ---------------------------------------------------------------------------------------

TEST_F(TuneDbTest, SaveLoadRoundTripIsExact) {
  TuneDb db = make_db();
  const DbKey k = sample_key();
  EXPECT_EQ(db.load(k).state, Loaded::State::Missing);
  db.save(k, "bm128_bn64_w4_s2", ok_result(0.123456789012345));
  db.save(k, "bm64_bn64_w4_s3", Result::failed("launch: CUDA_ERROR_OUT_OF_RESOURCES"));
  const Loaded l = db.load(k);
  ASSERT_EQ(l.state, Loaded::State::Valid) << l.why;
  ASSERT_EQ(l.results.size(), 2u);
  const Result& r = l.results.at("bm128_bn64_w4_s2");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.ms, 0.123456789012345);  // bit-exact through JSON
  EXPECT_EQ(r.runs, 20);
  EXPECT_EQ(r.regs, 168);
  EXPECT_EQ(r.device, "NVIDIA H100 80GB HBM3");
  EXPECT_NEAR(r.tflops(), 1.25e12 / (0.123456789012345 * 1e9), 1e-9);
  const Result& f = l.results.at("bm64_bn64_w4_s3");
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.note, "launch: CUDA_ERROR_OUT_OF_RESOURCES");
  EXPECT_EQ(l.path, dir_ + "/tune/" + k.relative_path());
  // Readable: a format field, the key and the results are plain JSON.
  const json j = json::parse(read_all(l.path));
  EXPECT_EQ(j["format"], "moga-tune-1");
  EXPECT_EQ(j["key"]["kernel"], "stga");
  EXPECT_TRUE(j.contains("checksum"));
  EXPECT_TRUE(warnings_.empty());
  // No temp files left behind.
  for (const auto& e : fs::directory_iterator(fs::path(l.path).parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(TuneDbTest, SavesMergeAndSameIdReplaces) {
  TuneDb db = make_db();
  const DbKey k = sample_key();
  db.save(k, "bm128_bn64_w4_s2", ok_result(1.0));
  db.save(k, "bm64_bn64_w4_s2", ok_result(2.0));
  Results merged = db.save(k, "bm128_bn64_w4_s2", ok_result(0.5));
  EXPECT_EQ(merged.size(), 2u);
  EXPECT_EQ(db.load(k).results.at("bm128_bn64_w4_s2").ms, 0.5);
  EXPECT_EQ(db.load(k).results.at("bm64_bn64_w4_s2").ms, 2.0);
}

TEST_F(TuneDbTest, CorruptOrTruncatedFilesAreDetectedAndRebuilt) {
  const DbKey k = sample_key();
  const Results good = {{"bm128_bn64_w4_s2", ok_result(1.0)}, {"bm64_bn64_w4_s2", ok_result(2.0)}};
  const std::string text = TuneDb::serialize(k, good);
  DbKey other = k;
  other.kernel = "dynamic";
  std::string flipped = text;
  flipped[flipped.find("\"ms\": 1.0") + 7] = '7';  // 1.0 -> 7.0: still valid JSON
  std::string no_sum = text;
  {
    json j = json::parse(text);
    j.erase("checksum");
    no_sum = j.dump(2);
  }
  std::string bad_result;
  {  // a well-formed file with a correct checksum but a malformed result
    json j = json::parse(text);
    j.erase("checksum");
    j["results"]["bm128_bn64_w4_s2"]["ms"] = -1.0;
    j["checksum"] = moga::jit::hex64(moga::jit::xxh3(j.dump()));
    bad_result = j.dump(2);
  }
  const std::vector<std::pair<const char*, std::string>> damaged = {
      {"truncated", text.substr(0, text.size() / 2)},
      {"empty", ""},
      {"garbage", std::string("\x00\x01\x02 not json", 13)},
      {"flipped digit", flipped},
      {"no checksum", no_sum},
      {"other format", [&] { std::string s = text; s.replace(s.find("moga-tune-1"), 11, "moga-tune-0"); return s; }()},
      {"other key", TuneDb::serialize(other, good)},
      {"bad result", bad_result},
  };
  for (const auto& [what, bytes] : damaged) {
    SCOPED_TRACE(what);
    TuneDb db = make_db();
    warnings_.clear();
    const std::string path = db.path(k);
    fs::create_directories(fs::path(path).parent_path());
    write_all(path, bytes);
    const Loaded l = db.load(k);
    EXPECT_EQ(l.state, Loaded::State::Corrupt);
    EXPECT_TRUE(l.results.empty()) << "a damaged file's results must never be used";
    EXPECT_FALSE(l.why.empty());
    EXPECT_EQ(warnings_.size(), 1u);
    // The next save rebuilds it (the damaged file is kept aside for a post-mortem).
    db.save(k, "bm64_bn32_w4_s2", ok_result(3.0));
    const Loaded r = db.load(k);
    ASSERT_EQ(r.state, Loaded::State::Valid) << r.why;
    EXPECT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results.count("bm64_bn32_w4_s2"));
    EXPECT_TRUE(fs::exists(path + ".corrupt"));
    fs::remove(path);
    fs::remove(path + ".corrupt");
  }
}

TEST_F(TuneDbTest, ListKernelFindsEveryBucketAndToolchain) {
  TuneDb db = make_db();
  DbKey a = sample_key(), b = sample_key(), c = sample_key(), other = sample_key();
  b.bucket.N = 8192;
  c.versions.moga = "0.2.0";
  other.kernel = "dynamic";
  for (const DbKey* k : {&a, &b, &c, &other}) db.save(*k, "bm128_bn64_w4_s2", ok_result(1.0));
  write_all(fs::path(db.path(a)).parent_path() / "N1-B1-H1-D128.deadbeef.json", "{ broken");
  const std::vector<Loaded> all = db.list_kernel(a);
  EXPECT_EQ(all.size(), 3u);  // a, b, c; not `other`, not the broken file
  for (const Loaded& l : all) EXPECT_EQ(l.key.kernel, "stga");
  EXPECT_EQ(warnings_.size(), 1u);
}

// Several processes save into one file at once: the file stays valid and holds every result
// (the lock + re-read inside it + merge; without them, saves would overwrite each other).
TEST_F(TuneDbTest, ConcurrentProcessesLeaveAValidMergedFile) {
  const DbKey k = sample_key();
  constexpr int kProcs = 4, kEach = 25;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      TuneDb db(dir_ + "/tune");
      int bad = 0;
      for (int i = 0; i < kEach; ++i) {
        try {
          db.save(k, Config{16 * (p + 1), 16 * (i + 1), 1, 2}.id(), ok_result(1.0 + p + i / 100.0));
        } catch (...) {
          ++bad;
        }
      }
      _exit(bad);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  TuneDb db = make_db();
  const Loaded l = db.load(k);
  ASSERT_EQ(l.state, Loaded::State::Valid) << l.why;
  EXPECT_EQ(l.results.size(), static_cast<size_t>(kProcs * kEach));
  EXPECT_TRUE(warnings_.empty());
}

// Ill-typed fields under a correct checksum, and special files in a database file's place: each is a
// corrupt file, warned about naming it, never read past the bound (16 MiB), never fatal; the next
// save rebuilds it (issue #14).
TEST_F(TuneDbTest, IllTypedFieldsAndSpecialFilesAreCorruptNotFatal) {
  const DbKey k = sample_key();
  const std::string text = TuneDb::serialize(k, {{"bm128_bn64_w4_s2", ok_result(1.0)}});
  auto resigned = [&](const std::function<void(json&)>& edit) {
    json j = json::parse(text);
    j.erase("checksum");
    edit(j);
    j["checksum"] = moga::jit::hex64(moga::jit::xxh3(j.dump()));
    return j.dump(2);
  };
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> cases = {
      {"runs as a string", [&](const std::string& p) { write_all(p, resigned([](json& j) { j["results"]["bm128_bn64_w4_s2"]["runs"] = "20"; })); }},
      {"ms as an object", [&](const std::string& p) { write_all(p, resigned([](json& j) { j["results"]["bm128_bn64_w4_s2"]["ms"] = json::object(); })); }},
      {"key bucket N as a string", [&](const std::string& p) { write_all(p, resigned([](json& j) { j["key"]["bucket"]["N"] = "4096"; })); }},
      {"results an array", [&](const std::string& p) { write_all(p, resigned([](json& j) { j["results"] = json::array(); })); }},
      {"note a number", [&](const std::string& p) { write_all(p, resigned([](json& j) { j["results"]["bm128_bn64_w4_s2"]["note"] = 3; })); }},
      {"a directory", [](const std::string& p) { fs::create_directories(p + "/x"); }},
      {"a FIFO", [](const std::string& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0); }},
      {"a link to /dev/zero", [](const std::string& p) { fs::create_symlink("/dev/zero", p); }},
      {"a 1 GiB sparse file", [](const std::string& p) {
         write_all(p, "{");
         fs::resize_file(p, 1ull << 30);
       }},
  };
  for (const auto& [what, damage] : cases) {
    SCOPED_TRACE(what);
    TuneDb db = make_db();
    warnings_.clear();
    const std::string path = db.path(k);
    fs::create_directories(fs::path(path).parent_path());
    damage(path);
    const auto t0 = std::chrono::steady_clock::now();
    Loaded l;
    EXPECT_NO_THROW(l = db.load(k));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
    EXPECT_EQ(l.state, Loaded::State::Corrupt);
    EXPECT_TRUE(l.results.empty());
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find(path), std::string::npos) << warnings_[0];
    EXPECT_NO_THROW(db.list_kernel(k));  // --show walks the folder: skipped, not fatal
    EXPECT_NO_THROW(db.save(k, "bm64_bn32_w4_s2", ok_result(3.0)));
    const Loaded r = db.load(k);
    ASSERT_EQ(r.state, Loaded::State::Valid) << r.why;
    EXPECT_EQ(r.results.size(), 1u);
    fs::remove_all(fs::path(path).parent_path());
  }
}

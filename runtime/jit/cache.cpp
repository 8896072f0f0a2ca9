// The on-disk cubin cache: locations, verified reads, atomic writes, the per-entry lock.
#include "runtime/jit/cache.h"

#include "runtime/jit/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "runtime/jit/jit.h"
#include "runtime/jit/xxh3.h"

namespace fs = std::filesystem;

namespace moga::jit {

namespace {
const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}
}  // namespace

std::string cache_root() {
  if (const char* d = env("MOGA_CACHE_DIR")) return d;
  // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (const char* x = env("XDG_CACHE_HOME"); x && x[0] == '/') return std::string(x) + "/moga";
  if (const char* h = env("HOME")) return std::string(h) + "/.cache/moga";
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return std::string(pw->pw_dir) + "/.cache/moga";
  return fmt::format("/tmp/moga-cache-{}", getuid());
}

std::string cache_dir(const std::string& arch) {
  return fmt::format("{}/moga-{}/nvrtc-{}/{}", cache_root(), MOGA_VERSION, nvrtc_version(), arch);
}

namespace cache {
namespace {

constexpr int kFormat = 1;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

std::string sanitize(const std::string& name) {
  std::string s;
  for (char c : name.substr(0, 64))
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
  if (s.empty() || s[0] == '.') s.insert(0, "k");  // no hidden or empty names
  return s;
}

Entry entry_for(const std::string& dir, const std::string& name, uint64_t hash) {
  const std::string stem = fmt::format("{}/{}-{}", dir, sanitize(name), hex64(hash));
  return {stem + ".cubin", stem + ".json", stem + ".lock", hash};
}

std::optional<std::vector<char>> load(const Entry& e, std::string* why,
                                      std::map<std::string, std::string>* lowered) {
  auto fail = [&](std::string reason) -> std::optional<std::vector<char>> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  // Record first: it is written last, so if it is there the cubin it describes was complete.
  std::optional<std::string> record_text = read_file(e.record_path);
  std::optional<std::string> bytes = read_file(e.cubin_path);
  if (!record_text && !bytes) return fail("missing");
  if (!record_text) return fail("record missing (" + e.record_path + ")");
  if (!bytes) return fail("cubin missing (" + e.cubin_path + ")");
  nlohmann::json rec = nlohmann::json::parse(*record_text, nullptr, /*allow_exceptions=*/false);
  if (rec.is_discarded() || !rec.is_object()) return fail("record is not valid JSON");
  if (rec.value("format", 0) != kFormat) return fail("record has another format");
  if (rec.value("hash", "") != hex64(e.hash)) return fail("record belongs to another entry");
  if (rec.value("bytes", uint64_t{0}) != bytes->size())
    return fail(fmt::format("cubin has {} bytes, record says {}", bytes->size(),
                            rec.value("bytes", uint64_t{0})));
  if (rec.value("xxh3", "") != hex64(xxh3(*bytes))) return fail("cubin checksum mismatch");
  if (bytes->size() < 4 || bytes->compare(0, 4, "\x7f" "ELF") != 0) return fail("not an ELF file");
  const nlohmann::json names = rec.value("lowered", nlohmann::json::object());
  if (!names.is_object()) return fail("record's lowered names are not an object");
  if (lowered) {
    lowered->clear();
    for (const auto& [expr, sym] : names.items()) {
      if (!sym.is_string()) return fail("record's lowered name is not a string");
      (*lowered)[expr] = sym.get<std::string>();
    }
  }
  return std::vector<char>(bytes->begin(), bytes->end());
}

void remove(const Entry& e) {
  std::error_code ec;  // best effort: a file already gone is fine
  fs::remove(e.record_path, ec);
  fs::remove(e.cubin_path, ec);
}

void write_atomic(const std::string& path, const char* data, size_t size) {
  write_file_atomic(path, data, size);  // temp file in the same folder, fsync, rename (atomic_file.h)
}

void store(const Entry& e, const std::vector<char>& cubin, const std::string& key_json,
           const std::map<std::string, std::string>& lowered) {
  write_atomic(e.cubin_path, cubin.data(), cubin.size());
  const nlohmann::json rec = {
      {"format", kFormat},
      {"hash", hex64(e.hash)},
      {"bytes", cubin.size()},
      {"xxh3", hex64(xxh3(std::string_view(cubin.data(), cubin.size())))},
      {"options", nlohmann::json::parse(key_json)},
      {"lowered", lowered},
  };
  const std::string text = rec.dump(2) + "\n";
  write_atomic(e.record_path, text.data(), text.size());
}

FileLock::FileLock(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(fmt::format("cannot open lock {}: {}", path, std::strerror(errno)));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    throw std::runtime_error(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace cache
}  // namespace moga::jit

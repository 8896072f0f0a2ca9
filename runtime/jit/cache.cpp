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
#include "runtime/jit/safe_file.h"
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

namespace {

using Status = RegularFile::Status;

// The record as a typed struct; any field missing or of another type makes the entry corrupt
// (a record edited to "bytes": "3976" must be rebuilt, not throw a json type_error at every compile).
struct Record {
  int64_t format = 0;
  std::string hash, xxh3;
  uint64_t bytes = 0;
  std::map<std::string, std::string> lowered;
};

std::optional<Record> parse_record(const std::string& text, std::string* why) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& w) -> std::optional<Record> {
    *why = w;
    return std::nullopt;
  };
  if (j.is_discarded()) return bad("record is not valid JSON");
  if (!j.is_object()) return bad("record is not a JSON object");
  Record r;
  const auto f = j.find("format");
  if (f == j.end() || !f->is_number_integer()) return bad("record's 'format' is missing or not an integer");
  r.format = f->get<int64_t>();
  if (r.format != kFormat) return bad("record has another format");
  for (auto [name, dst] : {std::pair<const char*, std::string*>{"hash", &r.hash}, {"xxh3", &r.xxh3}}) {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return bad(fmt::format("record's '{}' is missing or not a string", name));
    *dst = it->get<std::string>();
  }
  const auto b = j.find("bytes");
  if (b == j.end() || !b->is_number_unsigned()) return bad("record's 'bytes' is missing or not a non-negative integer");
  r.bytes = b->get<uint64_t>();
  if (const auto l = j.find("lowered"); l != j.end()) {
    if (!l->is_object()) return bad("record's lowered names are not an object");
    for (const auto& [expr, sym] : l->items()) {
      if (!sym.is_string()) return bad("record's lowered name is not a string");
      r.lowered[expr] = sym.get<std::string>();
    }
  }
  return r;
}

std::optional<std::vector<char>> load_checked(const Entry& e, std::string* why,
                                              std::map<std::string, std::string>* lowered) {
  auto fail = [&](std::string reason) -> std::optional<std::vector<char>> {
    *why = std::move(reason);
    return std::nullopt;
  };
  // Record first: it is written last, so if it is there the cubin it describes was complete. Both
  // are stat'ed before anything is read: a FIFO, a device (a cubin linked to /dev/zero) or a
  // directory is refused, and the cubin's size is compared with the record before reading it.
  const FileBytes rec_text = read_regular_file(e.record_path, kMaxRecordBytes);
  RegularFile cubin = open_regular_file(e.cubin_path, kMaxCubinBytes);
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{cubin.fd};
  if (rec_text.status == Status::Missing && cubin.status == Status::Missing) return fail("missing");
  if (rec_text.status == Status::Missing) return fail("record missing (" + e.record_path + ")");
  if (rec_text.status != Status::Ok) return fail("record " + e.record_path + " " + rec_text.why);
  if (cubin.status == Status::Missing) return fail("cubin missing (" + e.cubin_path + ")");
  if (cubin.status != Status::Ok) return fail("cubin " + e.cubin_path + " " + cubin.why);
  std::string rwhy;
  const std::optional<Record> rec = parse_record(rec_text.data, &rwhy);
  if (!rec) return fail(rwhy);
  if (rec->hash != hex64(e.hash)) return fail("record belongs to another entry");
  if (rec->bytes != cubin.size) return fail(fmt::format("cubin has {} bytes, record says {}", cubin.size, rec->bytes));
  std::vector<char> bytes((size_t)cubin.size);
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(cubin.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cubin " + e.cubin_path + " could not be read whole");
    got += (size_t)n;
  }
  if (rec->xxh3 != hex64(xxh3(std::string_view(bytes.data(), bytes.size())))) return fail("cubin checksum mismatch");
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "\x7f" "ELF", 4) != 0) return fail("not an ELF file");
  if (lowered) *lowered = rec->lowered;
  return bytes;
}

}  // namespace

std::optional<std::vector<char>> load(const Entry& e, std::string* why,
                                      std::map<std::string, std::string>* lowered) {
  std::string reason;
  std::optional<std::vector<char>> r;
  try {
    r = load_checked(e, &reason, lowered);
  } catch (const std::exception& x) {  // e.g. bad_alloc: whatever happens, an entry is only ever corrupt
    reason = std::string("unreadable: ") + x.what();
    r.reset();
  }
  if (!r && why) *why = reason;
  return r;
}

void remove(const Entry& e) {
  std::error_code ec;  // best effort: a file already gone is fine
  for (const std::string& p : {e.record_path, e.cubin_path}) {
    // A directory in an entry's place (not ours, but in our cache folder) goes too; remove_all does
    // not follow symlinks, so a link to somewhere else only loses the link.
    if (fs::is_directory(fs::symlink_status(p, ec))) fs::remove_all(p, ec);
    else fs::remove(p, ec);
  }
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

// The on-disk cubin cache (internal to moga_jit; jit.h is the public face).
//
// An entry is two files in cache_dir(arch):
//   <name>-<hash>.cubin   the raw cubin, so cuobjdump/nvdisasm work on it directly
//   <name>-<hash>.json    its record: format, byte length, XXH3 of the bytes, hash, options key
// plus <name>-<hash>.lock, the flock that serialises builders of that entry.
// The record is written last and is the commit point: a cubin without a matching record (missing,
// truncated, flipped bytes, a crash between the two renames) is invalid and is never loaded.
// Each file is written to a unique temp file in the same folder and renamed into place, so a reader
// never sees half a file and concurrent writers leave one whole entry.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moga::jit::cache {

struct Entry {
  std::string cubin_path, record_path, lock_path;
  uint64_t hash = 0;
};

// "<dir>/<sanitized name>-<16 hex>.{cubin,json,lock}"
Entry entry_for(const std::string& dir, const std::string& name, uint64_t hash);

// Names become file names: anything outside [A-Za-z0-9_.-] becomes '_', at most 64 characters.
std::string sanitize(const std::string& name);

// Bounds checked (by stat) before anything is read: a record is a few hundred bytes, a cubin at most
// a few MB (the largest shipped kernel is ~0.5 MB).
constexpr uint64_t kMaxRecordBytes = 1ull << 20;
constexpr uint64_t kMaxCubinBytes = 256ull << 20;

// The cubin if the entry exists and verifies; otherwise nullopt and *why says what was wrong
// ("missing" when there is simply no entry). Never throws: an unreadable, ill-typed, oversized or
// non-regular record or cubin (a directory, a FIFO, a link to /dev/zero) is a corrupt entry.
// *lowered receives the record's name-expression map.
std::optional<std::vector<char>> load(const Entry& e, std::string* why = nullptr,
                                      std::map<std::string, std::string>* lowered = nullptr);

// Deletes the entry's cubin and record (not the lock). Only call while holding the lock.
void remove(const Entry& e);

// Writes cubin then record, each atomically. Throws std::runtime_error on I/O failure.
void store(const Entry& e, const std::vector<char>& cubin, const std::string& key_json,
           const std::map<std::string, std::string>& lowered = {});

// Writes `data` to `path` through a unique temp file and rename(). Creates parent folders.
void write_atomic(const std::string& path, const char* data, size_t size);

// An exclusive flock on a lock file, released on destruction. Blocks until it is acquired.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace moga::jit::cache

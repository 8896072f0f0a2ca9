#include "runtime/jit/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace moga::jit {

namespace {
std::string errstr() { return std::strerror(errno); }

// ---- temp files removed on SIGINT / SIGTERM / SIGHUP ----
// A signal during a write would leave ".name.tmp.XXXXXX" behind (destructors do not run). Each live
// temp file is registered in a fixed table the handler can read without locks or allocation: a
// slot is 0 (free), 1 (being filled: the handler skips it) or 2 (holds a path to unlink). The
// handler calls only async-signal-safe functions (unlink, signal, raise), then re-raises the signal
// with the default action, so the process still dies of it (exit status 128 + signal in a shell).
constexpr int kSlots = 64;          // live temp files at once; more are simply not cleaned on a signal
constexpr size_t kSlotPath = 4096;  // PATH_MAX

struct TempSlot {
  std::atomic<int> state{0};
  char path[kSlotPath];
};
TempSlot g_slots[kSlots];
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free state");

constexpr int kCleanSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void remove_temp_files_and_reraise(int sig) {
  const int saved = errno;
  for (TempSlot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == 2) ::unlink(s.path);
  errno = saved;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Installed once, and only where the signal still has its default action: a program (or a test
// framework) that handles or ignores a signal keeps its own disposition.
void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : kCleanSignals) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = remove_temp_files_and_reraise;
      sigemptyset(&sa.sa_mask);
      for (int other : kCleanSignals) sigaddset(&sa.sa_mask, other);  // one cleanup at a time
      sa.sa_flags = 0;
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

int register_temp(const std::string& path) {
  install_handlers();
  if (path.size() >= kSlotPath) return -1;
  static std::atomic<unsigned> next{0};
  for (int tries = 0; tries < kSlots; ++tries) {
    const int i = (int)(next.fetch_add(1, std::memory_order_relaxed) % kSlots);  // round robin: slow reuse
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(2, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_temp(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0, std::memory_order_release);
}

}  // namespace

int registered_temp_files() {
  int n = 0;
  for (const TempSlot& s : g_slots) n += s.state.load(std::memory_order_acquire) == 2;
  return n;
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  std::string tmpl = (p.has_parent_path() ? p.parent_path() / ("." + p.filename().string()) : fs::path("." + p.filename().string())).string() + ".tmp.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) throw std::runtime_error("cannot create a temporary file for '" + path + "': " + errstr());
  tmp_ = buf.data();
  slot_ = register_temp(tmp_);
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
  unregister_temp(slot_);  // after the unlink: a signal in between finds the file gone, harmlessly
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("writing '" + path_ + "' failed: " + errstr());
    }
    p += w;
    n -= (size_t)w;
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw std::runtime_error("fsync of '" + path_ + "' failed: " + errstr());
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw std::runtime_error("closing '" + path_ + "' failed: " + errstr());
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error("renaming the temporary file onto '" + path_ + "' failed: " + errstr());
  committed_ = true;
  unregister_temp(slot_);  // after the rename: unlinking the old temp name then is a no-op
  slot_ = -1;
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  AtomicFile f(path);
  f.write(data, n);
  f.commit();
}

}  // namespace moga::jit

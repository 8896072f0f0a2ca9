// Files written under a unique temporary name in the destination folder and renamed into place on
// commit(), so a reader never sees half a file; destroyed without commit() the temp file is removed,
// and so it is when the process gets SIGINT, SIGTERM or SIGHUP while the file is open (a handler,
// installed on first use where the signal has its default action, unlinks every live temp file and
// re-raises the signal).
#pragma once

#include <cstddef>
#include <string>

namespace moga::jit {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // creates parent folders; throws std::runtime_error
  ~AtomicFile();                                 // removes the temp file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // throws std::runtime_error naming the file
  void commit();                           // fsync, close, rename onto the final path
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  int slot_ = -1;  // in the signal handler's table of temp files (-1: not registered)
  bool committed_ = false;
};

// Temp files the signal handler would remove now (for tests).
int registered_temp_files();

void write_file_atomic(const std::string& path, const void* data, size_t n);

}  // namespace moga::jit

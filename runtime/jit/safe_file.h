// Opening files that a user or another process may have replaced with anything: a FIFO (open() would
// block forever), /dev/zero (a read never ends), a directory, a 1 GiB sparse file where 4 KB was
// expected. Every reader of untrusted paths (checkpoints, the cubin cache, the tuning database)
// goes through here: stat first, refuse what is not a regular file or is larger than the caller's
// bound, and only then open (O_NONBLOCK, so even a FIFO swapped in between stat and open cannot
// block) and read exactly the size that was checked.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace moga::jit {

// "directory", "FIFO", "character device", ... for a stat mode (the words used in error messages).
const char* file_type_name(mode_t mode);

struct RegularFile {
  enum class Status { Ok, Missing, NotRegular, TooLarge, Error };
  Status status = Status::Error;
  int fd = -1;          // Ok: open read-only, O_CLOEXEC; the caller closes it
  uint64_t size = 0;    // Ok / TooLarge: st_size
  std::string why;      // not Ok: what was wrong, without the path ("is a FIFO, not a regular file")
};

// stat(path) (following symlinks: a symlink to a regular file is fine), refuse non-regular files and
// sizes above max_bytes, then open with O_NONBLOCK and check with fstat that the same regular file
// was opened.
RegularFile open_regular_file(const std::string& path, uint64_t max_bytes);

struct FileBytes {
  RegularFile::Status status = RegularFile::Status::Error;
  std::string data;  // Ok: the whole file
  std::string why;
};

// The whole file when it is a regular file of at most max_bytes; reads exactly the stat'ed size (a
// file that grows meanwhile is refused, one that shrinks gives an error).
FileBytes read_regular_file(const std::string& path, uint64_t max_bytes);

}  // namespace moga::jit

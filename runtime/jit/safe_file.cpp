#include "runtime/jit/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace moga::jit {

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

namespace {

using Status = RegularFile::Status;

RegularFile refuse(Status s, std::string why, uint64_t size = 0) {
  RegularFile r;
  r.status = s;
  r.why = std::move(why);
  r.size = size;
  return r;
}

std::string not_regular(mode_t mode) { return std::string("is a ") + file_type_name(mode) + ", not a regular file"; }

}  // namespace

RegularFile open_regular_file(const std::string& path, uint64_t max_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    return refuse(e == ENOENT ? Status::Missing : Status::Error, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) return refuse(Status::NotRegular, not_regular(st.st_mode));
  if ((uint64_t)st.st_size > max_bytes)
    return refuse(Status::TooLarge,
                  "is " + std::to_string((uint64_t)st.st_size) + " bytes, more than the " + std::to_string(max_bytes) +
                      " allowed here",
                  (uint64_t)st.st_size);
  // O_NONBLOCK: the path may have been replaced by a FIFO since the stat; open must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    return refuse(e == ENOENT ? Status::Missing : Status::Error, std::string("cannot open: ") + std::strerror(e));
  }
  struct stat fst;
  if (::fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino || fst.st_dev != st.st_dev) {
    const mode_t m = fst.st_mode;
    ::close(fd);
    return refuse(S_ISREG(m) ? Status::Error : Status::NotRegular,
                  S_ISREG(m) ? "changed while it was being opened" : not_regular(m));
  }
  if ((uint64_t)fst.st_size > max_bytes) {
    ::close(fd);
    return refuse(Status::TooLarge, "grew past " + std::to_string(max_bytes) + " bytes while it was being opened",
                  (uint64_t)fst.st_size);
  }
  // Regular files ignore O_NONBLOCK, but clear it so later reads behave as plain blocking reads.
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  RegularFile r;
  r.status = Status::Ok;
  r.fd = fd;
  r.size = (uint64_t)fst.st_size;
  return r;
}

FileBytes read_regular_file(const std::string& path, uint64_t max_bytes) {
  FileBytes out;
  RegularFile f = open_regular_file(path, max_bytes);
  out.status = f.status;
  out.why = f.why;
  if (f.status != Status::Ok) return out;
  out.data.resize((size_t)f.size);
  size_t got = 0;
  while (got < out.data.size()) {
    const ssize_t n = ::read(f.fd, &out.data[got], out.data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.status = Status::Error;
      out.why = n < 0 ? std::string("read failed: ") + std::strerror(errno)
                      : "shrank while it was being read (" + std::to_string(got) + " of " +
                            std::to_string(out.data.size()) + " bytes)";
      out.data.clear();
      ::close(f.fd);
      return out;
    }
    got += (size_t)n;
  }
  // One more byte: a file that grew past the size checked is not what was stat'ed.
  char extra;
  ssize_t n;
  do n = ::read(f.fd, &extra, 1);
  while (n < 0 && errno == EINTR);
  ::close(f.fd);
  if (n != 0) {
    out.status = Status::Error;
    out.why = "grew while it was being read";
    out.data.clear();
  }
  return out;
}

}  // namespace moga::jit

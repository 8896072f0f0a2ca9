// tuner.h's Progress: a redrawn bar on a TTY, a bounded number of lines elsewhere.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "runtime/tune/tuner.h"

namespace moga::tune {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string duration(double s) {
  if (s < 0) s = 0;
  const long long t = static_cast<long long>(s + 0.5);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

}  // namespace

Progress::Progress(std::FILE* out) : Progress(out, out && isatty(fileno(out))) {}

Progress::Progress(std::FILE* out, bool tty, Clock clock)
    : out_(out), tty_(tty), clock_(clock ? std::move(clock) : Clock(steady_seconds)) {}

void Progress::begin(const std::string& phase, size_t total) {
  std::lock_guard<std::mutex> g(mu_);
  phase_ = phase;
  total_ = total;
  done_ = 0;
  last_decile_ = 0;
  last_item_.clear();
  t0_ = clock_();
  last_draw_ = -1;
  if (!out_) return;
  if (tty_) {
    draw(true);
  } else {
    fmt::print(out_, "{}: {} to do\n", phase_, total_);
    std::fflush(out_);
  }
}

void Progress::step(const std::string& item) {
  std::lock_guard<std::mutex> g(mu_);
  ++done_;
  last_item_ = item;
  if (!out_) return;
  if (tty_) {
    draw(done_ == total_);
    return;
  }
  // Not a TTY: a line each time another tenth is done (at most 10 per phase, whatever the count).
  const int decile = total_ ? static_cast<int>(done_ * 10 / total_) : 10;
  if (decile > last_decile_ && done_ < total_) {
    last_decile_ = decile;
    const double el = clock_() - t0_;
    fmt::print(out_, "{}: {}/{} ({}%), {} elapsed, ETA {}\n", phase_, done_, total_, done_ * 100 / total_,
               duration(el), duration(el / done_ * (total_ - done_)));
    std::fflush(out_);
  }
}

void Progress::end() {
  std::lock_guard<std::mutex> g(mu_);
  if (!out_) return;
  if (tty_) {
    draw(true);
    fmt::print(out_, "\n");
    open_line_ = false;
  } else {
    fmt::print(out_, "{}: {}/{} done in {}\n", phase_, done_, total_, duration(clock_() - t0_));
  }
  std::fflush(out_);
}

void Progress::note(const std::string& line) {
  std::lock_guard<std::mutex> g(mu_);
  if (!out_) return;
  clear_line();
  fmt::print(out_, "{}\n", line);
  if (tty_ && !phase_.empty() && done_ < total_) draw(true);
  std::fflush(out_);
}

void Progress::clear_line() {
  if (tty_ && open_line_) fmt::print(out_, "\r\033[K");
  open_line_ = false;
}

void Progress::draw(bool force) {
  const double now = clock_();
  if (!force && last_draw_ >= 0 && now - last_draw_ < 0.1) return;
  last_draw_ = now;
  constexpr int kWidth = 24;
  const int filled = total_ ? static_cast<int>(done_ * kWidth / total_) : kWidth;
  const double el = now - t0_;
  std::string eta = done_ == 0 ? "ETA ?" : done_ >= total_ ? fmt::format("took {}", duration(el))
                                         : fmt::format("ETA {}", duration(el / done_ * (total_ - done_)));
  fmt::print(out_, "\r\033[K{} [{}{}] {}/{} {} {}", phase_, std::string(filled, '#'), std::string(kWidth - filled, '.'),
             done_, total_, eta, last_item_);
  open_line_ = true;
  std::fflush(out_);
}

}  // namespace moga::tune

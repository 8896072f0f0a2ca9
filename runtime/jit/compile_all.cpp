#include "runtime/jit/compile_all.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace moga::jit {

std::vector<CompiledKernel> compile_all(const std::vector<CompileJob>& jobs, unsigned threads) {
  std::vector<CompiledKernel> out(jobs.size());
  std::vector<std::exception_ptr> errors(jobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      try {
        out[i] = compile(*jobs[i].source, jobs[i].options);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t n = std::min<size_t>(jobs.size(), threads ? threads : hw);
  if (n <= 1) {
    worker();  // no thread for one job
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < n; ++t) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace moga::jit

// Several independent NVRTC programs compiled at once, on a std::thread pool.
//
//   std::vector<CompileJob> jobs = {{&src_a, opt_a}, {&src_b, opt_b}};
//   std::vector<CompiledKernel> ks = compile_all(jobs);   // ks[i] is jobs[i]'s, in order
//
// Why: NVRTC spends nearly all of a module's cold compile in the NVVM optimizer and ptxas, in time
// roughly proportional to the kernels instantiated (docs/performance.md, "Compile time"), and one
// program runs on one core. A pattern's kernels are independent programs (runtime/attention compiles
// one per attention kernel, one for the pattern-independent prep kernels, one per router size), so
// on a machine with cores to spare the cold compile takes as long as its largest program, not the sum.
// Each job goes through compile() (cache, per-entry lock, failure report): separate nvrtcPrograms are
// safe to compile from several threads.
#pragma once

#include <string>
#include <vector>

#include "runtime/jit/jit.h"

namespace moga::jit {

struct CompileJob {
  const std::string* source = nullptr;  // not owned; outlives compile_all()
  CompileOptions options;
};

// compile() of every job, at most `threads` at a time (0: one per job, bounded by the hardware's
// threads). All jobs run to completion; then the first failure in job order is rethrown (a
// CompileError keeps its log and repro command).
std::vector<CompiledKernel> compile_all(const std::vector<CompileJob>& jobs, unsigned threads = 0);

}  // namespace moga::jit

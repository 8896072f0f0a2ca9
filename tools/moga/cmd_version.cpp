// `moga --version`: tool and NVRTC versions, the cache folder, and what device (if any) is seen,
// so a log from any machine says what produced it.
#include <fmt/format.h>
#include <nvrtc.h>

#include <string>

#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "tools/moga/commands.h"

namespace moga::cli {
namespace {

std::string nvrtc_archs() {
  int n = 0;
  if (nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0) return "?";
  std::vector<int> archs(static_cast<size_t>(n));
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS) return "?";
  std::string s;
  for (int a : archs) s += fmt::format("{}sm_{}", s.empty() ? "" : " ", a);
  return s;
}

std::string version_text() {
  std::string out = fmt::format("moga {}\n", MOGA_VERSION);
  out += fmt::format("nvrtc {} (archs: {})\n", jit::nvrtc_version(), nvrtc_archs());
  out += fmt::format("cuda headers {}.{}\n", CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
  out += fmt::format("cache {}\n", jit::cache_root());
  std::string why;
  if (jit::device_available(&why)) {
    jit::Device& d = jit::Device::get();
    out += fmt::format("device {} ({})\n", d.name(), d.arch());
  } else {
    out += fmt::format("device none (no CUDA device: {})\n", why);
  }
  out += fmt::format("default arch {}", jit::CompileOptions{}.resolved_arch());
  return out;
}

}  // namespace

void register_version(CLI::App& app) {
  app.set_version_flag("--version", version_text, "Print versions, the cache folder and the device");
}

}  // namespace moga::cli

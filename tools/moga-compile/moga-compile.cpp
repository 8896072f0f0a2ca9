// moga-compile FILE.moga OUT_DIR [k=v]...: writes OUT_DIR/<pattern>.cu and OUT_DIR/<pattern>.json.
// The build runs it on every shipped pattern; errors print with file:line:col and a caret line.
#include <filesystem>
#include <iostream>

#include "compiler/driver/compile_pattern.h"
#include "runtime/jit/cache.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: moga-compile FILE.moga OUT_DIR [param=value]...\n";
    return 2;
  }
  moga::PatternCompileOptions options;
  for (int i = 3; i < argc; ++i) {
    std::string kv = argv[i];
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "moga-compile: expected param=value, got '" << kv << "'\n";
      return 2;
    }
    options.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  moga::frontend::Diagnostics diags;
  auto compiled = moga::compilePatternFile(argv[1], options, diags);
  std::cerr << diags.renderAll();
  if (!compiled) return 1;
  std::filesystem::create_directories(argv[2]);
  // The output is named after the file, so the build knows it before running the compiler.
  const std::string base = (std::filesystem::path(argv[2]) / std::filesystem::path(argv[1]).stem()).string();
  const std::string manifest = compiled->manifest.dump(2) + "\n";
  moga::jit::cache::write_atomic(base + ".cu", compiled->cuda.data(), compiled->cuda.size());
  moga::jit::cache::write_atomic(base + ".json", manifest.data(), manifest.size());
  return 0;
}

// moga-compile FILE.moga OUT_DIR [param=value]... [--head-dim D] [--dumps] [--source-name NAME]
// Writes OUT_DIR/<stem>.cu and OUT_DIR/<stem>.json (<stem>: FILE's name without .moga).
// The build runs it on every shipped pattern; errors print with file:line:col and a caret line.
// Options (used by the Python package, python/moga/_compiler.py):
//   --head-dim D       64 or 128 (default 128), as `moga compile --head-dim`;
//   --dumps            also writes the stages: <stem>.ast, <stem>.attn.mlir, <stem>.lowered.mlir;
//   --source-name NAME the file name the diagnostics (and the manifest's source_file) show instead of
//                      FILE, e.g. "<string>" for a pattern given as text.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "compiler/driver/compile_pattern.h"
#include "runtime/jit/cache.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: moga-compile FILE.moga OUT_DIR [param=value]... [--head-dim 64|128] [--dumps] "
                 "[--source-name NAME]\n";
    return 2;
  }
  moga::PatternCompileOptions options;
  bool dumps = false;
  std::string source_name = argv[1];
  for (int i = 3; i < argc; ++i) {
    std::string kv = argv[i];
    if (kv == "--dumps") {
      dumps = true;
      continue;
    }
    if (kv == "--head-dim" || kv == "--source-name") {
      if (i + 1 >= argc) {
        std::cerr << "moga-compile: " << kv << " needs a value\n";
        return 2;
      }
      const std::string v = argv[++i];
      if (kv == "--source-name") {
        source_name = v;
      } else if (v == "64" || v == "128") {
        options.head_dim = std::stoi(v);
      } else {
        std::cerr << "moga-compile: --head-dim must be 64 or 128, got '" << v << "'\n";
        return 2;
      }
      continue;
    }
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "moga-compile: expected param=value, got '" << kv << "'\n";
      return 2;
    }
    options.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  moga::frontend::Diagnostics diags;
  std::optional<moga::CompiledPattern> compiled;
  if (source_name == argv[1]) {
    compiled = moga::compilePatternFile(argv[1], options, diags);
  } else {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::cerr << "moga-compile: cannot read '" << argv[1] << "'\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    compiled = moga::compilePatternSource(ss.str(), source_name, options, diags);
  }
  std::cerr << diags.renderAll();
  if (!compiled) return 1;
  std::filesystem::create_directories(argv[2]);
  // The output is named after the file, so the build knows it before running the compiler.
  const std::string base = (std::filesystem::path(argv[2]) / std::filesystem::path(argv[1]).stem()).string();
  const std::string manifest = compiled->manifest.dump(2) + "\n";
  moga::jit::cache::write_atomic(base + ".cu", compiled->cuda.data(), compiled->cuda.size());
  moga::jit::cache::write_atomic(base + ".json", manifest.data(), manifest.size());
  if (dumps) {
    moga::jit::cache::write_atomic(base + ".ast", compiled->ast.data(), compiled->ast.size());
    moga::jit::cache::write_atomic(base + ".attn.mlir", compiled->attn.data(), compiled->attn.size());
    moga::jit::cache::write_atomic(base + ".lowered.mlir", compiled->lowered.data(), compiled->lowered.size());
  }
  return 0;
}

// `moga compile FILE.moga [--param k=v]... [--dump ast|attn|lowered|cuda]... [--shape N|FxHxW]
//                         [--head-dim 64|128] [-o DIR]`
// Runs the compiler's stages, prints the requested dumps, writes <pattern>.cu and <pattern>.json
// (the manifest) into DIR (atomically), and prints the block sparsity for a shape.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "compiler/driver/compile_pattern.h"
#include "runtime/jit/cache.h"
#include "tools/moga/commands.h"
#include "tools/moga/sparsity.h"

namespace moga::cli {
namespace {

struct CompileArgs {
  std::string file;
  std::vector<std::string> params;
  std::vector<std::string> dumps;
  std::string shape;
  std::vector<int> shots;
  int head_dim = 128;
  std::string out_dir;
};

int run_compile(const CompileArgs& a) {
  PatternCompileOptions opt;
  opt.head_dim = a.head_dim;
  for (const std::string& kv : a.params) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::runtime_error(fmt::format("--param expects k=v, got '{}'", kv));
    opt.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  frontend::Diagnostics diags;
  auto compiled = compilePatternFile(a.file, opt, diags);
  std::cerr << diags.renderAll();
  if (!compiled) return 1;
  for (const std::string& stage : a.dumps) {
    const std::string* text = stage == "ast" ? &compiled->ast
                            : stage == "attn" ? &compiled->attn
                            : stage == "lowered" ? &compiled->lowered
                            : stage == "cuda" ? &compiled->cuda : nullptr;
    fmt::print("// ----- {} -----\n{}\n", stage, *text);
  }
  if (!a.out_dir.empty()) {
    std::filesystem::create_directories(a.out_dir);
    const auto base = std::filesystem::path(a.out_dir) / compiled->name;
    jit::cache::write_atomic(base.string() + ".cu", compiled->cuda.data(), compiled->cuda.size());
    const std::string manifest = compiled->manifest.dump(2) + "\n";
    jit::cache::write_atomic(base.string() + ".json", manifest.data(), manifest.size());
    fmt::print("wrote {0}.cu and {0}.json\n", base.string());
  }
  if (!a.shape.empty()) print_sparsity(compiled->manifest, parse_shape(a.shape, a.shots), std::cout);
  return 0;
}

}  // namespace

Command register_compile(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App* sub = app.add_subcommand("compile", "Compile a .moga pattern to CUDA C++ and a manifest");
  sub->add_option("file", args->file, "the .moga pattern")->required()->check(CLI::ExistingFile);
  sub->add_option("--param", args->params, "override a param: --param M=16 (repeatable)");
  sub->add_option("--dump", args->dumps, "print a stage: ast, attn, lowered, cuda (repeatable)")
      ->check(CLI::IsMember({"ast", "attn", "lowered", "cuda"}));
  sub->add_option("--shape", args->shape, "print the block sparsity for N (seq) or FxHxW (video)");
  sub->add_option("--shots", args->shots, "first frame of each shot after the first (video), e.g. --shots 8 15");
  sub->add_option("--head-dim", args->head_dim, "head dimension of the kernels")->check(CLI::IsMember({64, 128}));
  sub->add_option("-o,--out", args->out_dir, "write <pattern>.cu and <pattern>.json here");
  return {sub, [args] { return run_compile(*args); }};
}

}  // namespace moga::cli

// `moga compile FILE.moga [--param k=v]... [--dump ast|attn|lowered|cuda]... [--shape N|FxHxW]
//                         [--head-dim 64|128] [-o DIR]`
// Runs the compiler's stages, prints the requested dumps, writes <pattern>.cu and <pattern>.json
// (the manifest) into DIR (atomically), and prints the block sparsity for a shape.
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

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
  bool out_given = false;  // -o given (possibly as ""), filled in before run_compile
};

/// An exclusive flock on the output directory itself (no lock file left behind), held while a
/// pattern's .cu and .json are renamed into place: concurrent compiles of one pattern into one
/// DIR (say with different --param) then leave a matching pair, never one run's .cu beside
/// another's .json.
class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error(fmt::format("-o {}: cannot open the directory", dir.string()));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw std::runtime_error(fmt::format("-o {}: cannot lock the directory", dir.string()));
  }
  ~DirLock() { ::close(fd_); }  // closing releases the flock
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

/// Writes <name>.cu and <name>.json into `dir`: each through a unique temp file renamed into place
/// (write_atomic), both renames under the directory's lock.
void write_outputs(const std::filesystem::path& dir, const std::string& name, const std::string& cuda,
                   const std::string& manifest) {
  std::filesystem::create_directories(dir);
  const std::string base = (dir / name).string();
  DirLock lock(dir);
  jit::cache::write_atomic(base + ".cu", cuda.data(), cuda.size());
  jit::cache::write_atomic(base + ".json", manifest.data(), manifest.size());
}

int run_compile(const CompileArgs& a) {
  // Every argument is checked before any work.
  if (a.out_given && a.out_dir.empty())
    throw std::runtime_error("-o/--out needs a directory, got an empty string");
  long long tokens = 0;  // of --shape; its Shape (per-frame tables) is built only once it passed
  if (!a.shape.empty()) {
    tokens = 1;
    for (int d : parse_shape_dims(a.shape)) tokens *= d;
  }
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
  // The block maps' size depends on the kernels' tiles: checked before writing or building any.
  std::optional<ref::Shape> shape;
  if (tokens > 0) {
    check_sparsity_size(compiled->manifest, tokens, a.shape);
    shape = parse_shape(a.shape, a.shots);
  }
  if (a.out_given) {
    write_outputs(a.out_dir, compiled->name, compiled->cuda, compiled->manifest.dump(2) + "\n");
    fmt::print("wrote {0}.cu and {0}.json\n", (std::filesystem::path(a.out_dir) / compiled->name).string());
  }
  if (shape) print_sparsity(compiled->manifest, *shape, std::cout);
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
  CLI::Option* out = sub->add_option("-o,--out", args->out_dir, "write <pattern>.cu and <pattern>.json here");
  return {sub, [args, out] {
            args->out_given = out->count() > 0;
            return run_compile(*args);
          }};
}

}  // namespace moga::cli

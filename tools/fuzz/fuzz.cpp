// moga-fuzz: mutation fuzzer of the compiler front end (`moga compile`, in process: parse, check,
// resolve, MLIR generation, the lowering pipeline and the code generator) and of the attn
// dialect's parser (`moga-opt`: the nesting scan, parse, verify, print, reparse).
//
//   moga-fuzz --mode moga|mlir --seeds PATH... [--corpus DIR] [--iterations N] [--seed S]
//             [--timeout SECONDS] [--failures DIR] [--batch N] [--no-fork] [--save-inputs DIR]
//
// Seeds are .moga / .mlir files, or folders searched recursively for them, or .md files whose
// ```moga / ```mlir blocks are taken; .mlir files are split at `// -----`. In mlir mode the
// attn IR of the moga seeds (before and after lowering) is added. Every file of --corpus runs as
// is, then N mutants of the seeds (a fixed-seed RNG: the same command runs the same inputs).
//
// Properties checked for each input:
//   * no crash (signal, uncaught exception, out of memory under a 4 GiB address-space limit);
//   * no hang: each input finishes within --timeout seconds (default 10);
//   * moga: every error is located (file:line:col) and none is an internal compiler error;
//   * mlir: input that parses verifies, prints, and reparses to the same printed text.
// Inputs run in forked workers (one per batch of inputs), so a crash or hang is reported with
// its input and the run goes on. Failing inputs are written to --failures (default
// fuzz-failures/) as <mode>-<n>.<ext> with a .why file beside. Exit status 0: no failure.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attn/AttnDialect.h"
#include "attn/AttnParseLimits.h"
#include "compiler/driver/compile_pattern.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace fs = std::filesystem;

namespace {

enum class Mode { Moga, Mlir };

struct Options {
  Mode mode = Mode::Moga;
  std::vector<std::string> seeds;
  std::string corpus;
  long iterations = 1000;
  uint64_t seed = 1;
  double timeout = 10.0;
  std::string failures = "fuzz-failures";
  int batch = 200;
  bool fork = true;        // --no-fork: in this process (under valgrind or a sanitizer)
  std::string saveInputs;  // --save-inputs DIR: every generated input, as <n>.<ext>
};

// ---- seeds --------------------------------------------------------------------------------------

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The ```lang blocks of a markdown file.
std::vector<std::string> markdownBlocks(const std::string& text, const std::string& lang) {
  std::vector<std::string> out;
  const std::string open = "```" + lang + "\n";
  for (size_t at = text.find(open); at != std::string::npos; at = text.find(open, at)) {
    size_t start = at + open.size(), end = text.find("```", start);
    if (end == std::string::npos) break;
    out.push_back(text.substr(start, end - start));
    at = end + 3;
  }
  return out;
}

std::vector<std::string> splitInputFile(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = text.find("// -----", start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 8;
  }
  return out;
}

void addSeedFile(const fs::path& p, std::vector<std::string>& moga, std::vector<std::string>& mlir) {
  const std::string ext = p.extension().string();
  if (ext == ".moga") {
    moga.push_back(readFile(p));
  } else if (ext == ".mlir") {
    for (std::string& s : splitInputFile(readFile(p))) mlir.push_back(std::move(s));
  } else if (ext == ".md") {
    const std::string text = readFile(p);
    for (std::string& s : markdownBlocks(text, "moga")) moga.push_back(std::move(s));
    for (std::string& s : markdownBlocks(text, "mlir")) mlir.push_back(std::move(s));
  }
}

void collectSeeds(const std::vector<std::string>& paths, std::vector<std::string>& moga,
                  std::vector<std::string>& mlir) {
  for (const std::string& path : paths) {
    if (fs::is_directory(path)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(path))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());  // a fixed order: the same seeds, the same run
      for (const fs::path& f : files) addSeedFile(f, moga, mlir);
    } else if (fs::is_regular_file(path)) {
      addSeedFile(path, moga, mlir);
    } else {
      throw std::runtime_error("seed path '" + path + "' does not exist");
    }
  }
}

// ---- mutation -----------------------------------------------------------------------------------

const std::vector<std::string> kMogaTokens = {
    "pattern", "layout", "seq", "video", "param", "def", "branch", "mask", "group", "route",
    "gate", "scale", "bias", "softcap", "output", "true", "false", "linear", "top", "mean", "sum",
    "q", "kv", "t", "h", "N", "F", "H", "W", "abs", "min", "max", "div", "mod", "route.prob",
    ".pos", ".frame", ".row", ".col", ".shot", ".shot_start", ".shot_end", "q.pos", "kv.pos",
    "t.frame", "(", ")", "{", "}", ",", ".", "=", ";", "+", "-", "*", "/", "%", "!", "&&", "||",
    "==", "!=", "<", "<=", ">", ">=", "\n", " ", "#", "0", "1", "-1", "2", "7", "64",
    "2147483647", "2147483648", "-2147483647 - 1", "65536", "0.5", "1.0", "0.0", "1e400",
    "1e-320", "1e38", "3.5e38", "1e-45", "1e308", "/ 0", "% 0", "+ 0.5", "* 1.5", "f(q, kv)",
    "def f(a, b) = a.pos - b.pos\n", "branch b {\n", "output mean(a, b)\n", "&", "|", "\t",
    "\xc3\xa9", "\x01",
};

const std::vector<std::string> kMlirTokens = {
    "attn.pattern @p layout seq {", "attn.pattern", "attn.attend", "attn.gate", "attn.mix",
    "attn.route", "attn.kernel", "attn.output", "attn.yield", "attn.coord", "attn.dim",
    "attn.floormod", "arith.constant", "arith.cmpi", "arith.addi", "arith.subf", "arith.sitofp",
    "math.absi", "^bb0(%q: !attn.token, %kv: !attn.token):", "!attn.token", "!attn.stream",
    "!attn.routing", "%0", "%1", "%q", "%kv", "{", "}", "(", ")", "[", "]", "<", ">", "->", ":",
    ",", "=", "\"", "@", "#", "i1", "i64", "f32", "f64", "layout video", "mask", "key", "bias",
    "weights [", "weight", "groups", "top", "{name = \"x\"}", "{accumulate = true}", "scale = ",
    "1.0e308", "1.0e-320", "0x7FF0000000000000", "-1.0", "0.0", "1e39 : f32", "2147483648",
    "-9223372036854775808", "0", "1", "pos", "frame", "shot_end", "N", "W", "sge", "slt", "oeq",
    "\n", " ", "// -----\n", "loc(\"f\":1:2)", "dense<1> : tensor<2xi64>", "array<f64: 1.0>",
    "\"attn.attend\"() ({", "}) : () -> !attn.stream", "module {", "\xff",
};

class Mutator {
 public:
  Mutator(uint64_t seed, Mode mode, const std::vector<std::string>& seeds)
      : rng_(seed), mode_(mode), seeds_(seeds) {}

  std::string next() {
    std::string s = pick(seeds_);
    const int rounds = 1 + (int)below(4);
    for (int i = 0; i < rounds; ++i) mutate(s);
    if (s.size() > (2u << 20)) s.resize(2u << 20);  // keep each input small
    return s;
  }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  template <class T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }
  const std::vector<std::string>& dict() const { return mode_ == Mode::Moga ? kMogaTokens : kMlirTokens; }

  // Offsets at token-ish boundaries (around spaces, brackets, operators) make the inserted
  // tokens land as tokens more often than a random byte offset would.
  size_t offset(const std::string& s) {
    if (s.empty()) return 0;
    size_t at = below(s.size() + 1);
    if (below(2)) {
      while (at < s.size() && std::isalnum((unsigned char)s[at])) ++at;
    }
    return at;
  }

  void mutate(std::string& s) {
    switch (below(12)) {
      case 0: case 1: case 2: {  // insert a token
        s.insert(offset(s), pick(dict()));
        break;
      }
      case 3: {  // delete a span
        if (s.empty()) break;
        size_t a = below(s.size()), n = 1 + below(std::min<size_t>(16, s.size() - a));
        s.erase(a, n);
        break;
      }
      case 4: {  // replace a number by an interesting one
        std::vector<size_t> digits;
        for (size_t i = 0; i < s.size(); ++i)
          if (std::isdigit((unsigned char)s[i]) && (i == 0 || !std::isalnum((unsigned char)s[i - 1])))
            digits.push_back(i);
        if (digits.empty()) break;
        size_t a = pick(digits), b = a;
        while (b < s.size() && (std::isalnum((unsigned char)s[b]) || s[b] == '.')) ++b;
        static const std::vector<std::string> numbers = {
            "0", "1", "2147483647", "2147483648", "4294967296", "1e400", "1e-320", "0.0", "3.5e38",
            "1.0e308", "65", "1025", "999999999999999999999"};
        s.replace(a, b - a, pick(numbers));
        break;
      }
      case 5: {  // duplicate a span (repetition: long chains, repeated statements)
        if (s.empty()) break;
        size_t a = below(s.size()), n = 1 + below(std::min<size_t>(64, s.size() - a));
        std::string span = s.substr(a, n);
        int times = 1 + (int)below(below(8) == 0 ? 2000 : 4);
        std::string rep;
        for (int i = 0; i < times; ++i) rep += span;
        s.insert(a + n, rep);
        break;
      }
      case 6: {  // splice a line of another seed
        const std::string& other = pick(seeds_);
        if (other.empty()) break;
        size_t a = other.rfind('\n', below(other.size()));
        a = a == std::string::npos ? 0 : a + 1;
        size_t b = other.find('\n', a);
        s.insert(offset(s), other.substr(a, b == std::string::npos ? std::string::npos : b - a + 1));
        break;
      }
      case 7: {  // flip a byte
        if (s.empty()) break;
        s[below(s.size())] ^= (char)(1u << below(8));
        break;
      }
      case 8: {  // swap two lines
        std::vector<size_t> starts = {0};
        for (size_t i = 0; i < s.size(); ++i)
          if (s[i] == '\n') starts.push_back(i + 1);
        if (starts.size() < 3) break;
        size_t i = below(starts.size() - 1), j = below(starts.size() - 1);
        if (i > j) std::swap(i, j);
        if (i == j) break;
        std::string a = s.substr(starts[i], starts[i + 1] - starts[i]);
        std::string b = s.substr(starts[j], starts[j + 1] - starts[j]);
        s = s.substr(0, starts[i]) + b + s.substr(starts[i + 1], starts[j] - starts[i + 1]) + a +
            s.substr(starts[j + 1]);
        break;
      }
      case 9: {  // wrap a span in brackets, many times (deep nesting)
        if (s.empty()) break;
        size_t a = offset(s), b = std::min(s.size(), a + below(32));
        int depth = 1 + (int)below(below(6) == 0 ? 6000 : 8);
        const bool moga = mode_ == Mode::Moga;
        std::string open = moga ? "(" : pick(std::vector<std::string>{"(", "[", "{", "<"});
        std::string close = open == "(" ? ")" : open == "[" ? "]" : open == "{" ? "}" : ">";
        std::string l, r;
        for (int i = 0; i < depth; ++i) l += open, r += close;
        s = s.substr(0, a) + l + s.substr(a, b - a) + r + s.substr(b);
        break;
      }
      case 10: {  // truncate
        if (!s.empty()) s.resize(below(s.size()));
        break;
      }
      default: {  // replace a token-ish word by a dictionary token
        size_t a = offset(s), b = a;
        while (b < s.size() && !std::isspace((unsigned char)s[b])) ++b;
        s.replace(a, b - a, pick(dict()));
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  Mode mode_;
  const std::vector<std::string>& seeds_;
};

// ---- the targets --------------------------------------------------------------------------------

enum Status : uint8_t { kAccepted = 1, kRejected = 2, kUnlocated = 3, kInternal = 4,
                        kException = 5, kRoundTrip = 6 };

struct Verdict {
  Status status = kAccepted;
  std::string why;
};

Verdict runMoga(const std::string& text) {
  moga::frontend::Diagnostics diags;
  moga::PatternCompileOptions options;
  auto compiled = moga::compilePatternSource(text, "fuzz.moga", options, diags);
  (void)diags.renderAll();  // rendering copes with any location
  for (const moga::frontend::Diagnostic& d : diags.all()) {
    if (d.severity != moga::frontend::Severity::Error) continue;
    if (d.message.find("internal compiler error") != std::string::npos)
      return {kInternal, diags.render(d)};
    if (!d.loc.valid() || d.loc.col <= 0 || d.loc.file != "fuzz.moga")
      return {kUnlocated, diags.render(d)};
  }
  if (!compiled && !diags.hasErrors()) return {kUnlocated, "rejected without any error"};
  return {compiled ? kAccepted : kRejected, {}};
}

std::string printOp(mlir::Operation* op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

Verdict runMlir(const std::string& text) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::attn::AttnDialect, mlir::arith::ArithDialect, mlir::math::MathDialect>();
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.mlir"), llvm::SMLoc());
  {
    // The scan prints its error through the SourceMgr: keep it quiet here.
    llvm::SourceMgr quiet;
    quiet.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.mlir"), llvm::SMLoc());
    quiet.setDiagHandler([](const llvm::SMDiagnostic&, void*) {});
    if (mlir::failed(mlir::attn::checkBeforeParsing(quiet))) return {kRejected, {}};
  }
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &ctx);
  if (!module) return {kRejected, {}};
  const std::string first = printOp(*module);
  mlir::OwningOpRef<mlir::ModuleOp> again = mlir::parseSourceString<mlir::ModuleOp>(first, &ctx);
  if (!again) return {kRoundTrip, "the printed form does not parse:\n" + diagnostics + "\n" + first};
  const std::string second = printOp(*again);
  if (first != second) return {kRoundTrip, "printed forms differ:\n" + first + "\n-----\n" + second};
  return {kAccepted, {}};
}

Verdict runOne(Mode mode, const std::string& text) {
  try {
    return mode == Mode::Moga ? runMoga(text) : runMlir(text);
  } catch (const std::exception& e) {
    return {kException, std::string("uncaught exception: ") + e.what()};
  }
}

// ---- workers ------------------------------------------------------------------------------------

struct Report {
  long inputs = 0, accepted = 0, rejected = 0, crashes = 0, hangs = 0, unlocated = 0,
       internal = 0, exceptions = 0, roundtrip = 0;
  double maxSeconds = 0;
  long failures() const { return crashes + hangs + unlocated + internal + exceptions + roundtrip; }
};

// Worker -> parent messages: {index, status, seconds, why length} then `why`.
struct Message {
  uint32_t index;
  uint8_t status;  // 0: started
  float seconds;
  uint32_t whyLength;
};

bool writeAll(int fd, const void* data, size_t n) {
  const char* p = (const char*)data;
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

[[noreturn]] void worker(Mode mode, const std::vector<std::string>& inputs, size_t from, int fd) {
  // Runaway memory becomes std::bad_alloc (an exception verdict), not a machine out of memory.
  rlimit limit{4ull << 30, 4ull << 30};
  setrlimit(RLIMIT_AS, &limit);
  for (size_t i = from; i < inputs.size(); ++i) {
    Message start{(uint32_t)i, 0, 0, 0};
    writeAll(fd, &start, sizeof start);
    auto t0 = std::chrono::steady_clock::now();
    Verdict v = runOne(mode, inputs[i]);
    float secs = std::chrono::duration<float>(std::chrono::steady_clock::now() - t0).count();
    Message done{(uint32_t)i, v.status, secs, (uint32_t)v.why.size()};
    writeAll(fd, &done, sizeof done);
    writeAll(fd, v.why.data(), v.why.size());
  }
  ::_exit(0);
}

class Runner {
 public:
  Runner(const Options& o) : o_(o) { fs::create_directories(o.failures); }

  // Runs `inputs` (labelled for the failure files), in workers of at most o_.batch inputs.
  void run(const std::vector<std::string>& inputs) {
    size_t next = 0;
    while (next < inputs.size()) {
      size_t end = std::min(inputs.size(), next + (size_t)o_.batch);
      std::vector<std::string> batch(inputs.begin() + next, inputs.begin() + end);
      next += runBatch(batch);
    }
  }

  const Report& report() const { return r_; }

 private:
  // Returns how many inputs of `batch` it consumed (all, unless a worker died or hung; the next
  // worker then starts after the input that killed this one).
  size_t runBatch(const std::vector<std::string>& batch) {
    if (!o_.fork) {
      for (const std::string& input : batch) {
        if (std::getenv("MOGA_FUZZ_TRACE")) std::fprintf(stderr, "moga-fuzz: input %ld\n", r_.inputs);
        auto t0 = std::chrono::steady_clock::now();
        Verdict v = runOne(o_.mode, input);
        record(input, v.status, std::chrono::duration<float>(std::chrono::steady_clock::now() - t0).count(), v.why);
      }
      return batch.size();
    }
    size_t from = 0;
    while (from < batch.size()) {
      int fds[2];
      if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
      std::cout.flush();
      pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        ::close(fds[0]);
        worker(o_.mode, batch, from, fds[1]);
      }
      ::close(fds[1]);
      from = collect(pid, fds[0], batch, from);
      ::close(fds[0]);
    }
    return batch.size();
  }

  // Reads the worker's messages until it exits; returns the index to resume at.
  size_t collect(pid_t pid, int fd, const std::vector<std::string>& batch, size_t from) {
    long current = -1;  // index of the input started and not finished
    auto started = std::chrono::steady_clock::now();
    std::string buffer;
    bool eof = false;
    while (!eof) {
      const double left = o_.timeout - std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (current >= 0 && left <= 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        fail(batch[current], "hang", "no result after " + std::to_string(o_.timeout) + " s");
        ++r_.hangs;
        ++r_.inputs;
        return (size_t)current + 1;
      }
      pollfd p{fd, POLLIN, 0};
      int ready = ::poll(&p, 1, current >= 0 ? std::max(1, (int)(left * 1000)) : 1000);
      if (ready <= 0) continue;
      char chunk[65536];
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof = true;
      } else {
        buffer.append(chunk, (size_t)n);
      }
      while (buffer.size() >= sizeof(Message)) {
        Message m;
        std::memcpy(&m, buffer.data(), sizeof m);
        if (buffer.size() < sizeof m + m.whyLength) break;
        std::string why = buffer.substr(sizeof m, m.whyLength);
        buffer.erase(0, sizeof m + m.whyLength);
        if (m.status == 0) {
          current = m.index;
          started = std::chrono::steady_clock::now();
          continue;
        }
        current = -1;
        record(batch[m.index], (Status)m.status, m.seconds, why);
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (current >= 0) {  // died inside an input
      std::string how = WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status))
                                            : "exit status " + std::to_string(WEXITSTATUS(status));
      fail(batch[current], "crash", how);
      ++r_.crashes;
      ++r_.inputs;
      return (size_t)current + 1;
    }
    return batch.size();
  }

  void record(const std::string& input, Status s, float seconds, const std::string& why) {
    ++r_.inputs;
    r_.maxSeconds = std::max(r_.maxSeconds, (double)seconds);
    if (seconds > o_.timeout) {  // finished, but too slowly
      ++r_.hangs;
      fail(input, "hang", "took " + std::to_string(seconds) + " s");
      return;
    }
    switch (s) {
      case kAccepted: ++r_.accepted; return;
      case kRejected: ++r_.rejected; return;
      case kUnlocated: ++r_.unlocated; fail(input, "unlocated", why); return;
      case kInternal: ++r_.internal; fail(input, "internal", why); return;
      case kException: ++r_.exceptions; fail(input, "exception", why); return;
      case kRoundTrip: ++r_.roundtrip; fail(input, "roundtrip", why); return;
    }
  }

  void fail(const std::string& input, const std::string& kind, const std::string& why) {
    const std::string ext = o_.mode == Mode::Moga ? ".moga" : ".mlir";
    const std::string base = (fs::path(o_.failures) /
                              ((o_.mode == Mode::Moga ? "moga-" : "mlir-") + std::to_string(++saved_)))
                                 .string();
    std::ofstream(base + ext, std::ios::binary) << input;
    std::ofstream(base + ".why") << kind << ": " << why << "\n";
    if (saved_ <= 20) std::cerr << "FAIL " << kind << " (" << base << ext << "): " << why.substr(0, 300) << "\n";
  }

  const Options& o_;
  Report r_;
  long saved_ = 0;
};

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      std::string m = value();
      if (m != "moga" && m != "mlir") throw std::runtime_error("--mode is moga or mlir, got '" + m + "'");
      o.mode = m == "moga" ? Mode::Moga : Mode::Mlir;
    } else if (a == "--seeds") {
      while (i + 1 < argc && argv[i + 1][0] != '-') o.seeds.push_back(argv[++i]);
    } else if (a == "--corpus") {
      o.corpus = value();
    } else if (a == "--iterations") {
      o.iterations = std::stol(value());
    } else if (a == "--seed") {
      o.seed = std::stoull(value());
    } else if (a == "--timeout") {
      o.timeout = std::stod(value());
    } else if (a == "--failures") {
      o.failures = value();
    } else if (a == "--no-fork") {
      o.fork = false;
    } else if (a == "--save-inputs") {
      o.saveInputs = value();
    } else if (a == "--batch") {
      o.batch = std::max(1, std::stoi(value()));
    } else {
      throw std::runtime_error("unknown argument '" + a + "' (see the comment at the top of tools/fuzz/fuzz.cpp)");
    }
  }
  return o;
}

// The attn IR of the moga seeds, before and after lowering: realistic mlir seeds.
void addCompiledSeeds(const std::vector<std::string>& moga, std::vector<std::string>& mlir) {
  for (const std::string& text : moga) {
    moga::frontend::Diagnostics diags;
    auto c = moga::compilePatternSource(text, "seed.moga", {}, diags);
    if (!c) continue;
    mlir.push_back(c->attn);
    mlir.push_back(c->lowered);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parseArgs(argc, argv);
    std::vector<std::string> moga, mlir;
    collectSeeds(o.seeds, moga, mlir);
    if (o.mode == Mode::Mlir) addCompiledSeeds(moga, mlir);
    const std::vector<std::string>& seeds = o.mode == Mode::Moga ? moga : mlir;
    if (seeds.empty() && o.iterations > 0) throw std::runtime_error("no seeds of that mode found");

    std::vector<std::string> corpus;
    if (!o.corpus.empty()) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(o.corpus))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) corpus.push_back(readFile(f));
    }

    Runner runner(o);
    auto t0 = std::chrono::steady_clock::now();
    runner.run(corpus);
    const Report corpusReport = runner.report();
    Mutator mutator(o.seed, o.mode, seeds);
    const long chunk = 5000;  // generated as they run: memory stays flat for long runs
    for (long done = 0; done < o.iterations; done += chunk) {
      std::vector<std::string> inputs;
      for (long i = done; i < std::min(o.iterations, done + chunk); ++i) {
        inputs.push_back(mutator.next());
        if (!o.saveInputs.empty()) {
          fs::create_directories(o.saveInputs);
          std::ofstream(fs::path(o.saveInputs) / (std::to_string(i) + (o.mode == Mode::Moga ? ".moga" : ".mlir")),
                        std::ios::binary) << inputs.back();
        }
      }
      runner.run(inputs);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Report& r = runner.report();
    std::printf(
        "moga-fuzz %s: %zu seeds, %zu corpus inputs (%ld failures), %ld mutants (seed %llu)\n"
        "  inputs %ld: accepted %ld, rejected %ld | crashes %ld, hangs %ld (> %.0f s), "
        "unlocated %ld, internal %ld, exceptions %ld, round-trip %ld\n"
        "  slowest input %.3f s, total %.1f s\n",
        o.mode == Mode::Moga ? "moga" : "mlir", seeds.size(), corpus.size(), corpusReport.failures(),
        o.iterations, (unsigned long long)o.seed, r.inputs, r.accepted, r.rejected, r.crashes, r.hangs,
        o.timeout, r.unlocated, r.internal, r.exceptions, r.roundtrip, r.maxSeconds, secs);
    return r.failures() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moga-fuzz: error: %s\n", e.what());
    return 2;
  }
}

// Located diagnostics: collected (never thrown) so one run reports every error it can find.
//
//   stga.moga:7:44: error: unknown identifier 'tsiz'; did you mean 'tsize'?
//   def tgroup(t) = (t.frame - t.shot_start) / tsiz
//                                              ^~~~
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/source_loc.h"

namespace moga::frontend {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLoc loc;
  std::string message;
};

class Diagnostics {
 public:
  // Past this many errors further ones are dropped (a garbled file must not flood the terminal).
  static constexpr int kMaxErrors = 50;

  // Registers the text of `file` so diagnostics located in it can quote the source line.
  void addSource(const std::string& file, std::string text);

  // Identical (severity, loc, message) reports are kept once: a def instantiated from several
  // call sites reports an error in its body only once.
  void error(const SourceLoc& loc, std::string message);
  void warning(const SourceLoc& loc, std::string message);
  // A note attaches to the diagnostic before it ("previous definition is here").
  void note(const SourceLoc& loc, std::string message);

  bool hasErrors() const { return errorCount_ > 0; }
  int errorCount() const { return errorCount_; }
  const std::vector<Diagnostic>& all() const { return diags_; }
  // Messages of the errors only, in order (handy in tests).
  std::vector<std::string> errorMessages() const;

  // `file:line:col: error: message`, then the source line and a caret line under the span.
  std::string render(const Diagnostic& d) const;
  // Every diagnostic, each followed by its source and caret lines, plus a summary line when some
  // errors were dropped.
  std::string renderAll() const;

 private:
  void add(Severity severity, const SourceLoc& loc, std::string message);
  // The text of `line` (without its newline), or nullopt when `file` was not registered.
  std::optional<std::string> sourceLine(const std::string& file, int line) const;

  std::vector<Diagnostic> diags_;
  std::map<std::string, std::string> sources_;
  int errorCount_ = 0;
  int droppedErrors_ = 0;
  bool lastDropped_ = false;  // notes after a dropped error are dropped too
};

}  // namespace moga::frontend

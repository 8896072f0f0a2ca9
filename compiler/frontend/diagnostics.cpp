#include "compiler/frontend/diagnostics.h"

#include <algorithm>

namespace moga::frontend {

void Diagnostics::addSource(const std::string& file, std::string text) {
  sources_[file] = std::move(text);
}

void Diagnostics::error(const SourceLoc& loc, std::string message) {
  add(Severity::Error, loc, std::move(message));
}
void Diagnostics::warning(const SourceLoc& loc, std::string message) {
  add(Severity::Warning, loc, std::move(message));
}
void Diagnostics::note(const SourceLoc& loc, std::string message) {
  add(Severity::Note, loc, std::move(message));
}

void Diagnostics::add(Severity severity, const SourceLoc& loc, std::string message) {
  if (severity == Severity::Note) {
    if (lastDropped_) return;
  } else {
    bool duplicate = std::any_of(diags_.begin(), diags_.end(), [&](const Diagnostic& d) {
      return d.severity == severity && d.loc == loc && d.message == message;
    });
    lastDropped_ = duplicate;
    if (duplicate) return;
    if (severity == Severity::Error) {
      if (errorCount_ >= kMaxErrors) {
        ++droppedErrors_;
        lastDropped_ = true;
        return;
      }
      ++errorCount_;
    }
  }
  diags_.push_back({severity, loc, std::move(message)});
}

std::vector<std::string> Diagnostics::errorMessages() const {
  std::vector<std::string> out;
  for (const Diagnostic& d : diags_)
    if (d.severity == Severity::Error) out.push_back(d.message);
  return out;
}

std::optional<std::string> Diagnostics::sourceLine(const std::string& file, int line) const {
  auto it = sources_.find(file);
  if (it == sources_.end() || line <= 0) return std::nullopt;
  const std::string& text = it->second;
  size_t start = 0;
  for (int l = 1; l < line; ++l) {
    start = text.find('\n', start);
    if (start == std::string::npos) return std::string();  // past the end: an empty last line
    ++start;
  }
  size_t end = text.find('\n', start);
  std::string s = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

static const char* severityName(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

std::string Diagnostics::render(const Diagnostic& d) const {
  std::string out;
  if (d.loc.valid())
    out = d.loc.file + ":" + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": ";
  else if (!d.loc.file.empty())
    out = d.loc.file + ": ";
  out += std::string(severityName(d.severity)) + ": " + d.message + "\n";
  if (!d.loc.valid()) return out;
  std::optional<std::string> source = sourceLine(d.loc.file, d.loc.line);
  if (!source) return out;
  const std::string& line = *source;
  out += line + "\n";
  // The caret line copies tabs from the source so the caret lands under the right character.
  std::string caret;
  int col = std::max(1, d.loc.col);
  for (int i = 1; i < col; ++i) caret += (i - 1 < (int)line.size() && line[i - 1] == '\t') ? '\t' : ' ';
  int length = d.loc.length;
  if (length < 0) length = std::max(1, (int)line.size() - col + 1);
  length = std::max(1, length);
  caret += '^';
  caret += std::string(length - 1, '~');
  out += caret + "\n";
  return out;
}

std::string Diagnostics::renderAll() const {
  std::string out;
  for (const Diagnostic& d : diags_) out += render(d);
  if (droppedErrors_ > 0)
    out += "error: too many errors; " + std::to_string(droppedErrors_) + " more not shown\n";
  return out;
}

}  // namespace moga::frontend

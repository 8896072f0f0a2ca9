#include "compiler/frontend/lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <limits>

#include "compiler/frontend/limits.h"

namespace moga::frontend {
namespace {

constexpr double kMinNormalFloat = 1.1754943508222875e-38;  // FLT_MIN

struct Keyword {
  const char* word;
  TokenKind kind;
};
constexpr Keyword kKeywords[] = {
    {"pattern", TokenKind::KwPattern}, {"layout", TokenKind::KwLayout},
    {"param", TokenKind::KwParam},     {"def", TokenKind::KwDef},
    {"branch", TokenKind::KwBranch},   {"mask", TokenKind::KwMask},
    {"group", TokenKind::KwGroup},     {"route", TokenKind::KwRoute},
    {"gate", TokenKind::KwGate},       {"scale", TokenKind::KwScale},
    {"bias", TokenKind::KwBias},       {"softcap", TokenKind::KwSoftcap},
    {"output", TokenKind::KwOutput},   {"true", TokenKind::KwTrue},
    {"false", TokenKind::KwFalse},
};

class Lexer {
 public:
  Lexer(const std::string& text, const std::string& file, Diagnostics& diags)
      : text_(text), file_(file), diags_(diags) {}

  std::vector<Token> run() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        if (!tokens_.empty() && tokens_.back().kind != TokenKind::Newline)
          push(TokenKind::Newline, 1);
        else
          advance(1);
      } else if (c == ' ' || c == '\t' || c == '\r') {
        advance(1);
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
      } else if (std::isdigit((unsigned char)c)) {
        number();
      } else if (std::isalpha((unsigned char)c) || c == '_') {
        identifier();
      } else {
        punctuation();
      }
    }
    Token eof;
    eof.kind = TokenKind::Eof;
    eof.loc = here(1);
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  SourceLoc here(int length) const { return {file_, line_, col_, length}; }

  void advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i, ++pos_) {
      if (text_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }

  Token& push(TokenKind kind, size_t length) {
    Token t;
    t.kind = kind;
    t.text = text_.substr(pos_, length);
    t.loc = here((int)length);
    advance(length);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  char peekAt(size_t offset) const {
    return pos_ + offset < text_.size() ? text_[pos_ + offset] : '\0';
  }

  void number() {
    size_t end = pos_;
    while (end < text_.size() && std::isdigit((unsigned char)text_[end])) ++end;
    bool isFloat = false;
    // "1.5" is a float; "1.x" stays an int followed by '.', which the parser rejects.
    if (end + 1 < text_.size() && text_[end] == '.' && std::isdigit((unsigned char)text_[end + 1])) {
      isFloat = true;
      ++end;
      while (end < text_.size() && std::isdigit((unsigned char)text_[end])) ++end;
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t e = end + 1;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
      if (e < text_.size() && std::isdigit((unsigned char)text_[e])) {
        isFloat = true;
        end = e;
        while (end < text_.size() && std::isdigit((unsigned char)text_[end])) ++end;
      }
    }
    // A number glued to letters ("3abc") is one bad token, not two good ones.
    size_t junk = end;
    while (junk < text_.size() && (std::isalnum((unsigned char)text_[junk]) || text_[junk] == '_'))
      ++junk;
    if (junk != end) {
      diags_.error(here((int)(junk - pos_)),
                   "invalid number '" + text_.substr(pos_, junk - pos_) + "'");
      advance(junk - pos_);
      return;
    }
    Token& t = push(isFloat ? TokenKind::Float : TokenKind::Int, end - pos_);
    if (isFloat) {
      t.floatValue = std::strtod(t.text.c_str(), nullptr);
      // The kernels compute in 32-bit floats: a literal they cannot hold would silently become
      // infinity or zero there (and `1e400` is infinite already here).
      const double mag = std::fabs(t.floatValue);
      if (!(mag <= limits::kMaxFloat) || (mag != 0.0 && mag < kMinNormalFloat)) {
        diags_.error(t.loc, "float literal '" + t.text +
                                "' is out of range for a 32-bit float (magnitude 1.2e-38 to "
                                "3.4e38, or 0)");
        t.floatValue = 1.0;  // a harmless stand-in: no follow-up "must be > 0" error
      }
    } else {
      // Coordinates and keys are 32-bit ints at run time; a literal must fit.
      errno = 0;
      unsigned long long v = std::strtoull(t.text.c_str(), nullptr, 10);
      if (errno != 0 || v > (unsigned long long)std::numeric_limits<int32_t>::max()) {
        diags_.error(t.loc, "integer literal '" + t.text + "' does not fit in 32 bits");
        v = 0;
      }
      t.intValue = (int64_t)v;
    }
  }

  void identifier() {
    size_t end = pos_;
    while (end < text_.size() && (std::isalnum((unsigned char)text_[end]) || text_[end] == '_'))
      ++end;
    std::string word = text_.substr(pos_, end - pos_);
    push(keywordKind(word), end - pos_);
  }

  void punctuation() {
    char c = text_[pos_], n = peekAt(1);
    auto two = [&](char second, TokenKind k2, TokenKind k1) {
      if (n == second) push(k2, 2); else push(k1, 1);
    };
    switch (c) {
      case '(': push(TokenKind::LParen, 1); return;
      case ')': push(TokenKind::RParen, 1); return;
      case '{': push(TokenKind::LBrace, 1); return;
      case '}': push(TokenKind::RBrace, 1); return;
      case ',': push(TokenKind::Comma, 1); return;
      case '.': push(TokenKind::Dot, 1); return;
      case ';': push(TokenKind::Semicolon, 1); return;
      case '+': push(TokenKind::Plus, 1); return;
      case '-': push(TokenKind::Minus, 1); return;
      case '*': push(TokenKind::Star, 1); return;
      case '/': push(TokenKind::Slash, 1); return;
      case '%': push(TokenKind::Percent, 1); return;
      case '=': two('=', TokenKind::EqEq, TokenKind::Assign); return;
      case '!': two('=', TokenKind::NotEq, TokenKind::Not); return;
      case '<': two('=', TokenKind::LessEq, TokenKind::Less); return;
      case '>': two('=', TokenKind::GreaterEq, TokenKind::Greater); return;
      case '&':
      case '|': {
        TokenKind k = c == '&' ? TokenKind::AndAnd : TokenKind::OrOr;
        if (n == c) {
          push(k, 2);
        } else {
          // Recover as if the operator were doubled: the rest of the line still parses.
          std::string op(1, c);
          diags_.error(here(1), "unexpected '" + op + "'; did you mean '" + op + op + "'?");
          push(k, 1);
        }
        return;
      }
      default: break;
    }
    // A UTF-8 sequence is reported as one character.
    size_t len = 1;
    if ((unsigned char)c >= 0xC0)
      while (len < 4 && ((unsigned char)peekAt(len) & 0xC0) == 0x80) ++len;
    std::string shown = std::isprint((unsigned char)c) || len > 1
                            ? text_.substr(pos_, len)
                            : "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
                                  std::string(1, "0123456789abcdef"[c & 15]);
    diags_.error(here(1), "unexpected character '" + shown + "'");
    advance(len);
  }

  const std::string& text_;
  const std::string& file_;
  Diagnostics& diags_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

}  // namespace

TokenKind keywordKind(const std::string& word) {
  for (const Keyword& k : kKeywords)
    if (word == k.word) return k.kind;
  return TokenKind::Ident;
}

bool isKeyword(const std::string& word) { return keywordKind(word) != TokenKind::Ident; }

std::string describe(TokenKind kind) {
  for (const Keyword& k : kKeywords)
    if (kind == k.kind) return std::string("'") + k.word + "'";
  switch (kind) {
    case TokenKind::Int: return "integer";
    case TokenKind::Float: return "number";
    case TokenKind::Ident: return "identifier";
    case TokenKind::LParen: return "'('";
    case TokenKind::RParen: return "')'";
    case TokenKind::LBrace: return "'{'";
    case TokenKind::RBrace: return "'}'";
    case TokenKind::Comma: return "','";
    case TokenKind::Dot: return "'.'";
    case TokenKind::Assign: return "'='";
    case TokenKind::Semicolon: return "';'";
    case TokenKind::Plus: return "'+'";
    case TokenKind::Minus: return "'-'";
    case TokenKind::Star: return "'*'";
    case TokenKind::Slash: return "'/'";
    case TokenKind::Percent: return "'%'";
    case TokenKind::Not: return "'!'";
    case TokenKind::AndAnd: return "'&&'";
    case TokenKind::OrOr: return "'||'";
    case TokenKind::EqEq: return "'=='";
    case TokenKind::NotEq: return "'!='";
    case TokenKind::Less: return "'<'";
    case TokenKind::LessEq: return "'<='";
    case TokenKind::Greater: return "'>'";
    case TokenKind::GreaterEq: return "'>='";
    case TokenKind::Newline: return "end of line";
    case TokenKind::Eof: return "end of file";
    default: return "token";
  }
}

std::vector<Token> lex(const std::string& text, const std::string& file, Diagnostics& diags) {
  return Lexer(text, file, diags).run();
}

}  // namespace moga::frontend

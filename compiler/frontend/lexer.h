// Tokens of the moga DSL. Newlines are tokens (statements end at a line break); the parser
// ignores them inside parentheses so long expressions can wrap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/frontend/diagnostics.h"

namespace moga::frontend {

enum class TokenKind {
  // literals and names
  Int, Float, Ident,
  // reserved words (statement keywords and the boolean literals)
  KwPattern, KwLayout, KwParam, KwDef, KwBranch, KwMask, KwGroup, KwRoute, KwGate, KwScale,
  KwBias, KwSoftcap, KwOutput, KwTrue, KwFalse,
  // punctuation
  LParen, RParen, LBrace, RBrace, Comma, Dot, Assign, Semicolon,
  // operators
  Plus, Minus, Star, Slash, Percent, Not, AndAnd, OrOr,
  EqEq, NotEq, Less, LessEq, Greater, GreaterEq,
  Newline, Eof,
};

struct Token {
  TokenKind kind = TokenKind::Eof;
  std::string text;  // the spelling, as written
  SourceLoc loc;
  int64_t intValue = 0;     // kind == Int
  double floatValue = 0.0;  // kind == Float
};

// "identifier", "'mask'", "'&&'", "end of line", ... for messages.
std::string describe(TokenKind kind);

// The keyword kind of `word`, or Ident.
TokenKind keywordKind(const std::string& word);
bool isKeyword(const std::string& word);

// Splits `text` into tokens, ending with Eof. Errors (stray characters, a lone '&' or '|', an int
// literal that does not fit 32 bits) are reported and skipped, so the token stream is always
// usable. Comments ('#' to end of line) are dropped; consecutive newlines collapse into one.
std::vector<Token> lex(const std::string& text, const std::string& file, Diagnostics& diags);

}  // namespace moga::frontend

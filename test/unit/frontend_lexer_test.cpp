// Lexer: token kinds, spellings, locations, literals and the errors it recovers from.
#include <gtest/gtest.h>

#include "compiler/frontend/lexer.h"

namespace moga::frontend {
namespace {

std::vector<TokenKind> kinds(const std::vector<Token>& tokens) {
  std::vector<TokenKind> out;
  for (const Token& t : tokens) out.push_back(t.kind);
  return out;
}

TEST(Lexer, KeywordsIdentifiersAndPunctuation) {
  Diagnostics d;
  auto toks = lex("mask q.pos >= kv.pos && !(x != 1)", "a.moga", d);
  using K = TokenKind;
  EXPECT_EQ(kinds(toks), (std::vector<K>{K::KwMask, K::Ident, K::Dot, K::Ident, K::GreaterEq,
                                         K::Ident, K::Dot, K::Ident, K::AndAnd, K::Not,
                                         K::LParen, K::Ident, K::NotEq, K::Int, K::RParen,
                                         K::Eof}));
  EXPECT_FALSE(d.hasErrors());
  EXPECT_EQ(toks[1].text, "q");
  EXPECT_EQ(toks[4].text, ">=");
}

TEST(Lexer, EveryOperator) {
  Diagnostics d;
  using K = TokenKind;
  auto toks = lex("+ - * / % ! && || == != < <= > >= = , ; { } ( ) .", "a.moga", d);
  EXPECT_EQ(kinds(toks),
            (std::vector<K>{K::Plus, K::Minus, K::Star, K::Slash, K::Percent, K::Not, K::AndAnd,
                            K::OrOr, K::EqEq, K::NotEq, K::Less, K::LessEq, K::Greater,
                            K::GreaterEq, K::Assign, K::Comma, K::Semicolon, K::LBrace, K::RBrace,
                            K::LParen, K::RParen, K::Dot, K::Eof}));
  EXPECT_FALSE(d.hasErrors());
}

TEST(Lexer, ContextualWordsAreIdentifiers) {
  Diagnostics d;
  auto toks = lex("linear top mean sum seq video route true false", "a.moga", d);
  using K = TokenKind;
  EXPECT_EQ(kinds(toks), (std::vector<K>{K::Ident, K::Ident, K::Ident, K::Ident, K::Ident,
                                         K::Ident, K::KwRoute, K::KwTrue, K::KwFalse, K::Eof}));
}

TEST(Lexer, NumbersAndLocations) {
  Diagnostics d;
  auto toks = lex("param x = 1.5e2\n  42 0.25 7e-1 2147483647", "n.moga", d);
  ASSERT_FALSE(d.hasErrors()) << d.renderAll();
  EXPECT_EQ(toks[3].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(toks[3].floatValue, 150.0);
  EXPECT_EQ(toks[3].loc.line, 1);
  EXPECT_EQ(toks[3].loc.col, 11);
  EXPECT_EQ(toks[3].loc.length, 5);
  EXPECT_EQ(toks[4].kind, TokenKind::Newline);
  EXPECT_EQ(toks[5].kind, TokenKind::Int);
  EXPECT_EQ(toks[5].intValue, 42);
  EXPECT_EQ(toks[5].loc.line, 2);
  EXPECT_EQ(toks[5].loc.col, 3);
  EXPECT_DOUBLE_EQ(toks[6].floatValue, 0.25);
  EXPECT_DOUBLE_EQ(toks[7].floatValue, 0.7);
  EXPECT_EQ(toks[8].intValue, 2147483647);
}

TEST(Lexer, IntDotIdentifierStaysThreeTokens) {
  Diagnostics d;
  auto toks = lex("1.x", "a.moga", d);
  using K = TokenKind;
  EXPECT_EQ(kinds(toks), (std::vector<K>{K::Int, K::Dot, K::Ident, K::Eof}));
}

TEST(Lexer, CommentsAndBlankLinesCollapse) {
  Diagnostics d;
  auto toks = lex("# header\n\n\npattern p   # trailing\n\n# only a comment\nlayout seq\n", "a",
                  d);
  using K = TokenKind;
  EXPECT_EQ(kinds(toks), (std::vector<K>{K::KwPattern, K::Ident, K::Newline, K::KwLayout,
                                         K::Ident, K::Newline, K::Eof}));
}

TEST(Lexer, StrayCharacterIsReportedAndSkipped) {
  Diagnostics d;
  d.addSource("s.moga", "mask q.pos @ 3");
  auto toks = lex("mask q.pos @ 3", "s.moga", d);
  ASSERT_EQ(d.errorMessages(), std::vector<std::string>{"unexpected character '@'"});
  EXPECT_EQ(d.render(d.all()[0]), "s.moga:1:12: error: unexpected character '@'\n"
                                  "mask q.pos @ 3\n"
                                  "           ^\n");
  EXPECT_EQ(toks.size(), 6u);  // mask q . pos 3 eof: nothing for '@'
}

TEST(Lexer, LoneAmpersandSuggestsDoubling) {
  Diagnostics d;
  auto toks = lex("a & b | c", "s.moga", d);
  EXPECT_EQ(d.errorMessages(),
            (std::vector<std::string>{"unexpected '&'; did you mean '&&'?",
                                      "unexpected '|'; did you mean '||'?"}));
  EXPECT_EQ(toks[1].kind, TokenKind::AndAnd);  // recovered as the doubled operator
  EXPECT_EQ(toks[3].kind, TokenKind::OrOr);
}

TEST(Lexer, IntegerTooLarge) {
  Diagnostics d;
  lex("param M = 2147483648", "s.moga", d);
  EXPECT_EQ(d.errorMessages(),
            std::vector<std::string>{"integer literal '2147483648' does not fit in 32 bits"});
}

TEST(Lexer, NumberGluedToLetters) {
  Diagnostics d;
  lex("x = 3abc", "s.moga", d);
  EXPECT_EQ(d.errorMessages(), std::vector<std::string>{"invalid number '3abc'"});
  EXPECT_EQ(d.all()[0].loc.col, 5);
  EXPECT_EQ(d.all()[0].loc.length, 4);
}

TEST(Lexer, NonAsciiCharacterIsOneError) {
  Diagnostics d;
  lex("mask q.pos \xe2\x89\xa4 kv.pos", "s.moga", d);  // U+2264 '≤'
  EXPECT_EQ(d.errorMessages(), std::vector<std::string>{"unexpected character '\xe2\x89\xa4'"});
}

}  // namespace
}  // namespace moga::frontend

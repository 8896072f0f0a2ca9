#include "compiler/frontend/parser.h"

#include "compiler/frontend/lexer.h"
#include "compiler/frontend/limits.h"
#include "compiler/frontend/names.h"

namespace moga::frontend {
namespace {

// Thrown after a syntax error has been reported; caught at statement level, which resynchronises.
struct SyntaxError {};

// Deeper nesting than this is garbage, not a pattern; refusing it keeps the stack bounded.
constexpr int kMaxNesting = 200;

bool isStatementKeyword(TokenKind k) {
  switch (k) {
    case TokenKind::KwPattern: case TokenKind::KwLayout: case TokenKind::KwParam:
    case TokenKind::KwDef: case TokenKind::KwBranch: case TokenKind::KwMask:
    case TokenKind::KwGroup: case TokenKind::KwRoute: case TokenKind::KwGate:
    case TokenKind::KwScale: case TokenKind::KwBias: case TokenKind::KwSoftcap:
    case TokenKind::KwOutput:
      return true;
    default:
      return false;
  }
}

bool isBranchStatement(TokenKind k) {
  switch (k) {
    case TokenKind::KwMask: case TokenKind::KwGroup: case TokenKind::KwRoute:
    case TokenKind::KwGate: case TokenKind::KwScale: case TokenKind::KwBias:
    case TokenKind::KwSoftcap:
      return true;
    default:
      return false;
  }
}

bool isBinaryOperator(TokenKind k) {
  switch (k) {
    case TokenKind::Plus: case TokenKind::Minus: case TokenKind::Star: case TokenKind::Slash:
    case TokenKind::Percent: case TokenKind::AndAnd: case TokenKind::OrOr: case TokenKind::EqEq:
    case TokenKind::NotEq: case TokenKind::Less: case TokenKind::LessEq: case TokenKind::Greater:
    case TokenKind::GreaterEq:
      return true;
    default:
      return false;
  }
}

bool isTerminator(TokenKind k) {
  return k == TokenKind::Newline || k == TokenKind::Semicolon || k == TokenKind::RBrace ||
         k == TokenKind::Eof;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, Diagnostics& diags, std::string file)
      : toks_(std::move(tokens)), diags_(diags), file_(std::move(file)) {}

  Pattern parseFile();
  ExprPtr parseLoneExpression();

 private:
  // ---- token access ----
  // A line break ends a statement, except inside parentheses and before a line that starts
  // with a binary operator (no statement starts with one): those are skipped here.
  const Token& cur() {
    while (toks_[idx_].kind == TokenKind::Newline &&
           (depth_ > 0 || isBinaryOperator(toks_[idx_ + 1].kind)))
      ++idx_;
    return toks_[idx_];
  }
  // Consumes a binary operator; the expression may go on on the next line.
  void takeOperator() {
    take();
    while (toks_[idx_].kind == TokenKind::Newline) ++idx_;
  }
  const Token& rawAt(size_t ahead) const {
    size_t i = std::min(idx_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  bool at(TokenKind k) { return cur().kind == k; }
  Token take() {
    Token t = cur();
    if (t.kind != TokenKind::Eof) ++idx_;
    return t;
  }
  bool accept(TokenKind k) {
    if (!at(k)) return false;
    take();
    return true;
  }
  [[noreturn]] void fail(const SourceLoc& loc, const std::string& message) {
    diags_.error(loc, message);
    throw SyntaxError{};
  }
  Token expect(TokenKind k, const std::string& context) {
    if (!at(k)) fail(cur().loc, "expected " + describe(k) + " " + context + ", found " + found());
    return take();
  }
  Token expectIdent(const std::string& what) {
    if (!at(TokenKind::Ident)) {
      if (cur().kind >= TokenKind::KwPattern && cur().kind <= TokenKind::KwFalse)
        fail(cur().loc, "expected " + what + ", found keyword " + describe(cur().kind) +
                            " (keywords cannot be used as names)");
      fail(cur().loc, "expected " + what + ", found " + found());
    }
    return take();
  }
  std::string found() {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::Ident: return "'" + t.text + "'";
      case TokenKind::Int: case TokenKind::Float: return "'" + t.text + "'";
      default: return describe(t.kind);
    }
  }

  void skipNewlines() {
    while (at(TokenKind::Newline) || at(TokenKind::Semicolon)) take();
  }
  void endStatement(const char* what);
  void synchronize();

  // ---- statements ----
  void parseTopLevelStatement(Pattern& p);
  void parseLayout(Pattern& p);
  void parseParam(Pattern& p);
  void parseDef(Pattern& p);
  void parseBranchBlock(Pattern& p);
  void parseOutput(Pattern& p);
  void parseBranchStatement(Branch& b);
  // Runs `body`; on a syntax error resynchronises so the caller can go on with the next statement.
  template <class F> void guarded(F&& body) {
    size_t start = idx_;
    try {
      body();
    } catch (const SyntaxError&) {
      synchronize();
      if (idx_ == start && !at(TokenKind::Eof)) take();  // always make progress
    }
  }

  // ---- expressions, lowest precedence first ----
  ExprPtr parseExpr() { return parseOr(); }
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseNegation();
  ExprPtr parsePostfix();
  ExprPtr parsePrimary();
  void enter() {
    if (++nesting_ > kMaxNesting) fail(cur().loc, "expression nested too deeply");
  }
  // A flat chain (`a + b + c ...`) builds a tree one level taller per operator without any
  // recursion here, but every later pass recurses over the tree: bound its height (limits.h).
  ExprPtr bounded(ExprPtr e, const SourceLoc& opLoc) {
    if (e->height > limits::kMaxExprDepth)
      fail(opLoc, "expression too deep: more than " + std::to_string(limits::kMaxExprDepth) +
                      " nested operations (each operator of a chain counts one level; the "
                      "limit is in docs/dsl.md, \"Limits\")");
    return e;
  }
  // Counts one statement; past the file's limit the rest of the file is skipped (one error).
  void countStatement(const SourceLoc& loc) {
    if (++statements_ <= limits::kMaxStatements) return;
    diags_.error(loc, "too many statements: the limit is " +
                          std::to_string(limits::kMaxStatements) + " per file");
    idx_ = toks_.size() - 1;  // Eof: nothing after this is parsed
    throw SyntaxError{};
  }
  struct Leave {
    int& n;
    ~Leave() { --n; }
  };

  std::vector<Token> toks_;
  Diagnostics& diags_;
  std::string file_;
  size_t idx_ = 0;
  int depth_ = 0;    // open parentheses
  int nesting_ = 0;  // recursion depth of the expression parser
  int statements_ = 0;
  SourceLoc firstTopLevelStatement_;
  bool hasTopLevelStatements_ = false;
  bool hasBranchBlocks_ = false;
};

void Parser::endStatement(const char* what) {
  if (at(TokenKind::Newline) || at(TokenKind::Semicolon)) {
    take();
    return;
  }
  if (at(TokenKind::RBrace) || at(TokenKind::Eof)) return;
  fail(cur().loc, std::string("expected end of line after ") + what + ", found " + found());
}

// Skips the rest of the broken statement: up to a line break outside the parentheses that were
// open, a statement keyword at the start of a line, a '}' or the end of the file.
void Parser::synchronize() {
  int open = depth_;
  depth_ = 0;
  nesting_ = 0;
  // The error may sit on the first token of a line (a missing ')' found at the next statement).
  bool lineStart = idx_ > 0 && toks_[idx_ - 1].kind == TokenKind::Newline;
  while (true) {
    const Token& t = toks_[idx_];
    if (t.kind == TokenKind::Eof || t.kind == TokenKind::RBrace) return;
    if (lineStart && isStatementKeyword(t.kind)) return;
    if (t.kind == TokenKind::LParen) ++open;
    if (t.kind == TokenKind::RParen && open > 0) --open;
    ++idx_;
    if (t.kind == TokenKind::Semicolon && open == 0) return;
    if (t.kind == TokenKind::Newline) {
      if (open == 0) return;
      lineStart = true;
    } else {
      lineStart = false;
    }
  }
}

Pattern Parser::parseFile() {
  Pattern p;
  p.loc = {file_, 1, 1, 1};
  skipNewlines();
  if (!at(TokenKind::KwPattern)) {
    // Report and go on: the rest of the file is still worth checking.
    diags_.error(cur().loc, "a pattern file must start with 'pattern <name>', found " + found());
  } else guarded([&] {
    take();
    Token name = expectIdent("a pattern name after 'pattern'");
    p.name = name.text;
    p.loc = name.loc;
    endStatement("the pattern name");
  });
  while (true) {
    skipNewlines();
    if (at(TokenKind::Eof)) break;
    guarded([&] { parseTopLevelStatement(p); });
  }
  if (hasTopLevelStatements_ && hasBranchBlocks_) {
    diags_.error(firstTopLevelStatement_,
                 "statement outside a branch: a pattern with 'branch' blocks must put every "
                 "mask/group/route/gate/scale/bias/softcap inside one");
    // Drop the implicit branch so the checker does not pile errors onto it.
    for (size_t i = 0; i < p.branches.size(); ++i)
      if (p.branches[i].implicit) p.branches.erase(p.branches.begin() + (long)i--);
  }
  if (p.branches.empty() && !hasBranchBlocks_) {
    // `pattern full / layout seq` and nothing else: one branch with no mask, full attention.
    Branch b;
    b.name = p.name;
    b.loc = p.loc;
    b.implicit = true;
    p.branches.push_back(std::move(b));
  }
  return p;
}

void Parser::parseTopLevelStatement(Pattern& p) {
  TokenKind k = cur().kind;
  if (k != TokenKind::KwBranch && !isBranchStatement(k)) countStatement(cur().loc);
  switch (k) {
    case TokenKind::KwPattern:
      fail(take().loc, "only one 'pattern' per file");  // taken: skip the whole line
    case TokenKind::KwLayout: return parseLayout(p);
    case TokenKind::KwParam: return parseParam(p);
    case TokenKind::KwDef: return parseDef(p);
    case TokenKind::KwBranch: return parseBranchBlock(p);
    case TokenKind::KwOutput: return parseOutput(p);
    case TokenKind::RBrace:
      fail(cur().loc, "unmatched '}'");
    default: break;
  }
  if (isBranchStatement(k)) {
    if (!hasTopLevelStatements_) firstTopLevelStatement_ = cur().loc;
    hasTopLevelStatements_ = true;
    Branch* implicit = nullptr;
    for (Branch& b : p.branches)
      if (b.implicit) implicit = &b;
    if (!implicit) {
      Branch b;
      b.name = p.name;
      b.loc = cur().loc;
      b.implicit = true;
      p.branches.push_back(std::move(b));
      implicit = &p.branches.back();
    }
    return parseBranchStatement(*implicit);
  }
  fail(cur().loc, "expected a statement (layout, param, def, branch, mask, group, route, gate, "
                  "scale, bias, softcap or output), found " + found());
}

void Parser::parseLayout(Pattern& p) {
  Token kw = take();
  Token name = expectIdent("a layout name ('seq' or 'video') after 'layout'");
  std::optional<Layout> layout;
  if (name.text == "seq") layout = Layout::Seq;
  if (name.text == "video") layout = Layout::Video;
  if (!layout)
    diags_.error(name.loc, "unknown layout '" + name.text + "'" +
                               didYouMean(name.text, {"seq", "video"}) +
                               " (layouts: seq, video)");
  if (p.layout && layout) {
    diags_.error(kw.loc, "duplicate 'layout'");
    diags_.note(p.layoutLoc, "previous 'layout' is here");
  } else if (layout) {
    p.layout = layout;
    p.layoutLoc = name.loc;
  }
  endStatement("the layout");
}

void Parser::parseParam(Pattern& p) {
  take();
  Token name = expectIdent("a param name after 'param'");
  expect(TokenKind::Assign, "after the param name (param NAME = VALUE)");
  SourceLoc valueLoc = cur().loc;
  bool negative = false;
  if (at(TokenKind::Minus)) {
    negative = true;
    take();
  }
  Param prm;
  prm.name = name.text;
  prm.loc = name.loc;
  Token v = cur();
  if (v.kind == TokenKind::Int) {
    prm.value = Value::ofInt(negative ? -v.intValue : v.intValue);
  } else if (v.kind == TokenKind::Float) {
    prm.value = Value::ofFloat(negative ? -v.floatValue : v.floatValue);
  } else {
    fail(v.loc, "a param value must be an int or float literal, found " + found());
  }
  take();
  prm.valueLoc = spanning(valueLoc, v.loc);
  if ((int)p.params.size() >= limits::kMaxParams)
    diags_.error(prm.loc, "too many params: the limit is " + std::to_string(limits::kMaxParams) +
                              " per pattern");
  p.params.push_back(std::move(prm));
  endStatement("the param value");
}

void Parser::parseDef(Pattern& p) {
  take();
  Def d;
  Token name = expectIdent("a def name after 'def'");
  d.name = name.text;
  d.loc = name.loc;
  if ((int)p.defs.size() >= limits::kMaxDefs)
    diags_.error(d.loc, "too many defs: the limit is " + std::to_string(limits::kMaxDefs) +
                            " per pattern");
  expect(TokenKind::LParen, "after the def name (def NAME(ARGS) = EXPR)");
  ++depth_;
  if (!at(TokenKind::RParen)) {
    do {
      Token a = expectIdent("an argument name");
      d.args.push_back({a.text, a.loc});
    } while (accept(TokenKind::Comma));
  }
  expect(TokenKind::RParen, "after the def arguments");
  --depth_;
  expect(TokenKind::Assign, "after the def arguments (def NAME(ARGS) = EXPR)");
  // Registered before its body parses: a syntax error in the body must not turn every call of
  // the def into an "unknown function" error as well.
  p.defs.push_back(std::move(d));
  size_t index = p.defs.size() - 1;
  ExprPtr body = parseExpr();
  p.defs[index].body = std::move(body);
  endStatement("the def body");
}

void Parser::parseBranchBlock(Pattern& p) {
  hasBranchBlocks_ = true;
  countStatement(cur().loc);
  take();
  Token name = expectIdent("a branch name after 'branch'");
  if ((int)p.branches.size() >= limits::kMaxBranches)
    diags_.error(name.loc, "too many branches: the limit is " +
                               std::to_string(limits::kMaxBranches) + " per pattern");
  p.branches.emplace_back();
  size_t index = p.branches.size() - 1;
  p.branches[index].name = name.text;
  p.branches[index].loc = name.loc;
  SourceLoc open = cur().loc;
  if (!accept(TokenKind::LBrace))
    diags_.error(cur().loc, "expected '{' after the branch name, found " + found());
  while (true) {
    skipNewlines();
    if (accept(TokenKind::RBrace)) break;
    if (at(TokenKind::Eof) || (isStatementKeyword(cur().kind) && !isBranchStatement(cur().kind))) {
      diags_.error(cur().loc, "expected '}' to close branch '" + name.text + "' before " + found());
      diags_.note(open, "the branch is opened here");
      return;
    }
    guarded([&] {
      if (!isBranchStatement(cur().kind))
        fail(cur().loc, "expected a branch statement (mask, group, route, gate, scale, bias or "
                        "softcap), found " + found());
      parseBranchStatement(p.branches[index]);
    });
  }
  endStatement("'}'");
}

void Parser::parseBranchStatement(Branch& b) {
  countStatement(cur().loc);
  Token kw = take();
  const std::string word = kw.text;
  auto duplicate = [&](bool present, const SourceLoc& previous) {
    if (!present) return false;
    diags_.error(kw.loc, "duplicate '" + word + "' in branch '" + b.name + "'");
    diags_.note(previous, "previous '" + word + "' is here");
    return true;
  };
  auto exprStatement = [&](std::optional<ExprStmt>& slot) {
    ExprPtr value = parseExpr();
    if (!duplicate(slot.has_value(), slot ? slot->loc : SourceLoc{}))
      slot = ExprStmt{std::move(value), kw.loc};
  };
  switch (kw.kind) {
    case TokenKind::KwMask: exprStatement(b.mask); break;
    case TokenKind::KwScale: exprStatement(b.scale); break;
    case TokenKind::KwBias: exprStatement(b.bias); break;
    case TokenKind::KwSoftcap: exprStatement(b.softcap); break;
    case TokenKind::KwGroup: {
      GroupStmt g;
      g.loc = kw.loc;
      if (at(TokenKind::KwRoute) && isTerminator(rawAt(1).kind)) {
        g.byRoute = true;
        take();
      } else {
        g.key = parseExpr();
      }
      if (!duplicate(b.group.has_value(), b.group ? b.group->loc : SourceLoc{}))
        b.group = std::move(g);
      break;
    }
    case TokenKind::KwGate: {
      GateStmt g;
      g.loc = kw.loc;
      if (at(TokenKind::KwRoute) && rawAt(1).kind == TokenKind::Dot &&
          rawAt(2).kind == TokenKind::Ident && rawAt(2).text == "prob" &&
          isTerminator(rawAt(3).kind)) {
        g.byRouteProb = true;
        take();  // route
        take();  // .
        take();  // prob
      } else {
        g.value = parseExpr();
      }
      if (!duplicate(b.gate.has_value(), b.gate ? b.gate->loc : SourceLoc{}))
        b.gate = std::move(g);
      break;
    }
    case TokenKind::KwRoute: {
      RouteStmt r;
      Token kind = expectIdent("'linear' after 'route' (route linear(M) top K)");
      if (kind.text != "linear")
        fail(kind.loc, "unknown router '" + kind.text + "'; the only router is 'linear' "
                       "(route linear(M) top K)");
      expect(TokenKind::LParen, "after 'linear'");
      ++depth_;
      r.groups = parseExpr();
      expect(TokenKind::RParen, "after the number of groups");
      --depth_;
      Token top = cur();
      if (top.kind != TokenKind::Ident || top.text != "top")
        fail(top.loc, "expected 'top K' after 'route linear(M)', found " + found());
      take();
      r.topK = parseExpr();
      r.loc = spanning(kw.loc, r.topK->loc);
      if (!duplicate(b.route.has_value(), b.route ? b.route->loc : SourceLoc{}))
        b.route = std::move(r);
      break;
    }
    default:
      fail(kw.loc, "expected a branch statement, found " + describe(kw.kind));
  }
  endStatement(("the '" + word + "' statement").c_str());
}

void Parser::parseOutput(Pattern& p) {
  Token kw = take();
  Output out;
  out.loc = kw.loc;
  Token head = expectIdent("a branch name or mean(...) / sum(...) after 'output'");
  if (at(TokenKind::LParen)) {
    if (head.text == "mean") {
      out.kind = OutputKind::Mean;
    } else if (head.text == "sum") {
      out.kind = OutputKind::Sum;
    } else {
      fail(head.loc, "unknown output combinator '" + head.text + "'" +
                         didYouMean(head.text, {"mean", "sum"}) + " (use mean(...) or sum(...))");
    }
    take();
    ++depth_;
    do {
      ExprPtr item = parseExpr();
      OutputTerm term;
      term.loc = item->loc;
      if (Ident* id = item->as<Ident>()) {
        term.branch = id->name;
        term.branchLoc = item->loc;
      } else if (Binary* bin = item->as<Binary>();
                 bin && bin->op == BinaryOp::Mul && bin->rhs->is<Ident>()) {
        term.branch = bin->rhs->as<Ident>()->name;
        term.branchLoc = bin->rhs->loc;
        term.weight = std::move(bin->lhs);
      } else {
        fail(item->loc, "expected a branch name or 'WEIGHT * branch' in output");
      }
      out.terms.push_back(std::move(term));
    } while (accept(TokenKind::Comma));
    expect(TokenKind::RParen, "to close the output list");
    --depth_;
  } else {
    out.kind = OutputKind::Single;
    out.terms.push_back({nullptr, head.text, head.loc, head.loc});
  }
  if (p.output) {
    diags_.error(kw.loc, "duplicate 'output'");
    diags_.note(p.output->loc, "previous 'output' is here");
  } else {
    p.output = std::move(out);
  }
  endStatement("the output");
}

// ---- expressions --------------------------------------------------------------------------------

ExprPtr Parser::parseOr() {
  enter();
  Leave leave{nesting_};
  ExprPtr lhs = parseAnd();
  while (at(TokenKind::OrOr)) {
    SourceLoc opLoc = cur().loc;
    takeOperator();
    ExprPtr rhs = parseAnd();
    SourceLoc loc = spanning(lhs->loc, rhs->loc);
    lhs = bounded(makeBinary(BinaryOp::Or, std::move(lhs), std::move(rhs), loc), opLoc);
  }
  return lhs;
}

ExprPtr Parser::parseAnd() {
  ExprPtr lhs = parseNot();
  while (at(TokenKind::AndAnd)) {
    SourceLoc opLoc = cur().loc;
    takeOperator();
    ExprPtr rhs = parseNot();
    SourceLoc loc = spanning(lhs->loc, rhs->loc);
    lhs = bounded(makeBinary(BinaryOp::And, std::move(lhs), std::move(rhs), loc), opLoc);
  }
  return lhs;
}

ExprPtr Parser::parseNot() {
  if (at(TokenKind::Not)) {
    enter();
    Leave leave{nesting_};
    Token op = take();
    ExprPtr operand = parseNot();
    SourceLoc loc = spanning(op.loc, operand->loc);
    return bounded(makeUnary(UnaryOp::Not, std::move(operand), loc), op.loc);
  }
  return parseComparison();
}

static std::optional<BinaryOp> comparisonOp(TokenKind k) {
  switch (k) {
    case TokenKind::EqEq: return BinaryOp::Eq;
    case TokenKind::NotEq: return BinaryOp::Ne;
    case TokenKind::Less: return BinaryOp::Lt;
    case TokenKind::LessEq: return BinaryOp::Le;
    case TokenKind::Greater: return BinaryOp::Gt;
    case TokenKind::GreaterEq: return BinaryOp::Ge;
    default: return std::nullopt;
  }
}

ExprPtr Parser::parseComparison() {
  ExprPtr lhs = parseAdditive();
  if (auto op = comparisonOp(cur().kind)) {
    SourceLoc opLoc = cur().loc;
    takeOperator();
    ExprPtr rhs = parseAdditive();
    SourceLoc loc = spanning(lhs->loc, rhs->loc);
    lhs = bounded(makeBinary(*op, std::move(lhs), std::move(rhs), loc), opLoc);
    if (comparisonOp(cur().kind))
      fail(cur().loc, "comparisons do not chain: write 'a < b && b < c' instead of 'a < b < c'");
  }
  return lhs;
}

ExprPtr Parser::parseAdditive() {
  ExprPtr lhs = parseMultiplicative();
  while (at(TokenKind::Plus) || at(TokenKind::Minus)) {
    BinaryOp op = cur().kind == TokenKind::Plus ? BinaryOp::Add : BinaryOp::Sub;
    SourceLoc opLoc = cur().loc;
    takeOperator();
    ExprPtr rhs = parseMultiplicative();
    SourceLoc loc = spanning(lhs->loc, rhs->loc);
    lhs = bounded(makeBinary(op, std::move(lhs), std::move(rhs), loc), opLoc);
  }
  return lhs;
}

ExprPtr Parser::parseMultiplicative() {
  ExprPtr lhs = parseNegation();
  while (at(TokenKind::Star) || at(TokenKind::Slash) || at(TokenKind::Percent)) {
    TokenKind k = cur().kind;
    SourceLoc opLoc = cur().loc;
    takeOperator();
    BinaryOp op = k == TokenKind::Star ? BinaryOp::Mul
                  : k == TokenKind::Slash ? BinaryOp::Div
                                          : BinaryOp::Mod;
    ExprPtr rhs = parseNegation();
    SourceLoc loc = spanning(lhs->loc, rhs->loc);
    lhs = bounded(makeBinary(op, std::move(lhs), std::move(rhs), loc), opLoc);
  }
  return lhs;
}

ExprPtr Parser::parseNegation() {
  if (at(TokenKind::Minus)) {
    enter();
    Leave leave{nesting_};
    Token op = take();
    ExprPtr operand = parseNegation();
    SourceLoc loc = spanning(op.loc, operand->loc);
    return bounded(makeUnary(UnaryOp::Neg, std::move(operand), loc), op.loc);
  }
  return parsePostfix();
}

ExprPtr Parser::parsePostfix() {
  ExprPtr e = parsePrimary();
  if (at(TokenKind::Dot)) {
    Token dot = take();
    const Ident* base = e->as<Ident>();
    if (!base) fail(dot.loc, "'.' needs a token name on its left (q.pos, kv.frame, t.row)");
    Token name = expectIdent("a field name after '.'");
    Field f{base->name, name.text, e->loc, name.loc};
    e = makeExpr(std::move(f), spanning(e->loc, name.loc));
    if (at(TokenKind::Dot)) fail(cur().loc, "a field has no fields of its own");
  } else if (at(TokenKind::LParen)) {
    const Ident* callee = e->as<Ident>();
    if (!callee) fail(cur().loc, "only a def or builtin name can be called");
    take();
    ++depth_;
    Call call{callee->name, {}};
    if (!at(TokenKind::RParen)) {
      do call.args.push_back(parseExpr());
      while (accept(TokenKind::Comma));
    }
    Token close = expect(TokenKind::RParen, "to close the argument list of '" + call.callee + "'");
    --depth_;
    SourceLoc callLoc = e->loc;
    e = bounded(makeExpr(std::move(call), spanning(e->loc, close.loc)), callLoc);
  }
  if (at(TokenKind::LParen) || at(TokenKind::Dot))
    fail(cur().loc, "unexpected " + found() + " after an expression");
  return e;
}

ExprPtr Parser::parsePrimary() {
  const Token t = cur();
  switch (t.kind) {
    case TokenKind::Int: take(); return makeExpr(IntLit{t.intValue}, t.loc);
    case TokenKind::Float: take(); return makeExpr(FloatLit{t.floatValue}, t.loc);
    case TokenKind::KwTrue: take(); return makeExpr(BoolLit{true}, t.loc);
    case TokenKind::KwFalse: take(); return makeExpr(BoolLit{false}, t.loc);
    case TokenKind::Ident: take(); return makeExpr(Ident{t.text}, t.loc);
    // `route` is a keyword but names the router in `group route` and `gate route.prob`; the
    // checker reports it anywhere else.
    case TokenKind::KwRoute: take(); return makeExpr(Ident{"route"}, t.loc);
    case TokenKind::LParen: {
      enter();
      Leave leave{nesting_};
      take();
      ++depth_;
      ExprPtr inner = parseExpr();
      Token close = expect(TokenKind::RParen, "to close '('");
      --depth_;
      inner->loc = spanning(t.loc, close.loc);
      return inner;
    }
    default:
      fail(t.loc, "expected an expression, found " + found());
  }
}

ExprPtr Parser::parseLoneExpression() {
  try {
    ExprPtr e = parseExpr();
    skipNewlines();
    if (!at(TokenKind::Eof)) fail(cur().loc, "unexpected " + found() + " after the expression");
    return e;
  } catch (const SyntaxError&) {
    return nullptr;
  }
}

}  // namespace

Pattern parsePattern(const std::string& text, const std::string& file, Diagnostics& diags) {
  diags.addSource(file, text);
  if (text.size() > limits::kMaxSourceBytes) {
    // Refused before lexing: the cost of every stage grows with the file.
    diags.error(SourceLoc{file, 1, 1, 1},
                "pattern file is " + std::to_string(text.size()) + " bytes; the limit is " +
                    std::to_string(limits::kMaxSourceBytes) + " bytes (docs/dsl.md, \"Limits\")");
    Pattern p;
    p.loc = {file, 1, 1, 1};
    return p;
  }
  return Parser(lex(text, file, diags), diags, file).parseFile();
}

ExprPtr parseExpression(const std::string& text, const std::string& file, Diagnostics& diags) {
  diags.addSource(file, text);
  return Parser(lex(text, file, diags), diags, file).parseLoneExpression();
}

}  // namespace moga::frontend

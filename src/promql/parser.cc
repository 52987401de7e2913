#include "promql/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "promql/exposition.h"  // IsNameStart, IsNameChar

namespace slipway::promql {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "?";
}

bool Matcher::Matches(std::string_view v) const {
  switch (op) {
    case Op::kEq:
      return v == value;
    case Op::kNeq:
      return v != value;
    case Op::kRe:
      return re->FullMatch(v);
    case Op::kNre:
      return !re->FullMatch(v);
  }
  return false;
}

std::string_view BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kPow:
      return "^";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kMod:
      return "%";
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kEq:
      return "==";
    case BinOp::kNe:
      return "!=";
    case BinOp::kGt:
      return ">";
    case BinOp::kLt:
      return "<";
    case BinOp::kGe:
      return ">=";
    case BinOp::kLe:
      return "<=";
    case BinOp::kAnd:
      return "and";
    case BinOp::kOr:
      return "or";
    case BinOp::kUnless:
      return "unless";
  }
  return "?";
}

bool IsComparison(BinOp op) { return op >= BinOp::kEq && op <= BinOp::kLe; }

bool IsSetOp(BinOp op) { return op >= BinOp::kAnd; }

int64_t ParsePromDuration(std::string_view s) {
  if (s.empty()) return -1;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return -1;
    int64_t n = std::strtoll(std::string(s.substr(start, i - start)).c_str(), nullptr, 10);
    int64_t unit = 0;
    if (s.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < s.size()) {
      switch (s[i]) {
        case 's':
          unit = 1000;
          break;
        case 'm':
          unit = 60'000;
          break;
        case 'h':
          unit = 3'600'000;
          break;
        case 'd':
          unit = 86'400'000;
          break;
        case 'w':
          unit = 7 * 86'400'000LL;
          break;
        case 'y':
          unit = 365 * 86'400'000LL;
          break;
        default:
          return -1;
      }
      ++i;
    } else {
      return -1;
    }
    total += n * unit;
  }
  return total;
}

namespace {

enum class Tok {
  kEof,
  kIdent,
  kNumber,
  kString,
  kDuration,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kComma,
  kAssign,  // = (matcher)
  kEqlRe,
  kNeqRe,
  kNeq,
  kEql,
  kPow,
  kMul,
  kDiv,
  kMod,
  kAdd,
  kSub,
  kGt,
  kLt,
  kGe,
  kLe,
  kAt,     // @ (modifier)
  kColon,  // : (only inside [..], a subquery's range and step)
};

struct Token {
  Tok kind = Tok::kEof;
  size_t pos = 0;
  std::string text;  // ident, string value, number text, duration text
};

const std::set<std::string, std::less<>> kAggregations = {
    "sum",    "avg",    "min",  "max",     "count",    "group",
    "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values"};
// Aggregations whose first argument is a parameter (a scalar; count_values' is a string).
bool TakesParam(std::string_view agg) {
  return agg == "topk" || agg == "bottomk" || agg == "quantile" || agg == "count_values";
}

struct FuncSig {
  std::vector<ValueType> args;
  ValueType ret;
  bool variadic = false;  // the last argument may repeat, or be left out
};

const FuncSig* FindFunc(std::string_view name) {
  using VT = ValueType;
  static const std::map<std::string, FuncSig, std::less<>> kFuncs = {
      {"rate", {{VT::kMatrix}, VT::kVector}},
      {"increase", {{VT::kMatrix}, VT::kVector}},
      {"irate", {{VT::kMatrix}, VT::kVector}},
      {"delta", {{VT::kMatrix}, VT::kVector}},
      {"avg_over_time", {{VT::kMatrix}, VT::kVector}},
      {"min_over_time", {{VT::kMatrix}, VT::kVector}},
      {"max_over_time", {{VT::kMatrix}, VT::kVector}},
      {"sum_over_time", {{VT::kMatrix}, VT::kVector}},
      {"count_over_time", {{VT::kMatrix}, VT::kVector}},
      {"last_over_time", {{VT::kMatrix}, VT::kVector}},
      {"stddev_over_time", {{VT::kMatrix}, VT::kVector}},
      {"stdvar_over_time", {{VT::kMatrix}, VT::kVector}},
      {"present_over_time", {{VT::kMatrix}, VT::kVector}},
      {"absent_over_time", {{VT::kMatrix}, VT::kVector}},
      {"quantile_over_time", {{VT::kScalar, VT::kMatrix}, VT::kVector}},
      {"histogram_quantile", {{VT::kScalar, VT::kVector}, VT::kVector}},
      {"abs", {{VT::kVector}, VT::kVector}},
      {"ceil", {{VT::kVector}, VT::kVector}},
      {"floor", {{VT::kVector}, VT::kVector}},
      {"round", {{VT::kVector}, VT::kVector}},
      {"clamp_min", {{VT::kVector, VT::kScalar}, VT::kVector}},
      {"clamp_max", {{VT::kVector, VT::kScalar}, VT::kVector}},
      {"absent", {{VT::kVector}, VT::kVector}},
      {"scalar", {{VT::kVector}, VT::kScalar}},
      {"vector", {{VT::kScalar}, VT::kVector}},
      {"time", {{}, VT::kScalar}},
      {"label_replace",
       {{VT::kVector, VT::kString, VT::kString, VT::kString, VT::kString}, VT::kVector}},
      {"label_join", {{VT::kVector, VT::kString, VT::kString, VT::kString}, VT::kVector, true}},
  };
  auto it = kFuncs.find(name);
  return it == kFuncs.end() ? nullptr : &it->second;
}

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src) {}

  Result<ExprPtr> Run(ParseError* err) {
    ExprPtr e;
    if (Status st = Next(); st.ok()) {
      if (tok_.kind == Tok::kEof) {
        Fail(0, "the expression is empty");
      } else {
        e = ParseBinary(0);
        if (!failed_ && tok_.kind != Tok::kEof) Fail(tok_.pos, "unexpected " + Describe(tok_));
      }
    }
    if (failed_) {
      if (err) *err = error_;
      return InvalidInput(fmt::format("at char {}: {}", error_.pos + 1, error_.message));
    }
    return e;
  }

 private:
  // ---- lexer ----
  Status Next() {
    if (failed_) return Internal("failed");
    while (at_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[at_]))) ++at_;
    tok_ = Token{};
    tok_.pos = at_;
    if (at_ >= src_.size()) {
      tok_.kind = Tok::kEof;
      return Status::OK();
    }
    char c = src_[at_];
    auto two = src_.substr(at_, 2);
    auto single = [&](Tok k) {
      tok_.kind = k;
      ++at_;
      return Status::OK();
    };
    auto dbl = [&](Tok k) {
      tok_.kind = k;
      at_ += 2;
      return Status::OK();
    };
    // Inside [..] a colon separates a subquery's range and step; elsewhere it starts a
    // (recording rule's) metric name.
    if (c == ':' && in_brackets_) return single(Tok::kColon);
    if (two == "=~") return dbl(Tok::kEqlRe);
    if (two == "!~") return dbl(Tok::kNeqRe);
    if (two == "!=") return dbl(Tok::kNeq);
    if (two == "==") return dbl(Tok::kEql);
    if (two == ">=") return dbl(Tok::kGe);
    if (two == "<=") return dbl(Tok::kLe);
    switch (c) {
      case '(':
        return single(Tok::kLParen);
      case ')':
        return single(Tok::kRParen);
      case '{':
        return single(Tok::kLBrace);
      case '}':
        return single(Tok::kRBrace);
      case '[':
        in_brackets_ = true;
        return single(Tok::kLBracket);
      case ']':
        in_brackets_ = false;
        return single(Tok::kRBracket);
      case '@':
        return single(Tok::kAt);
      case ',':
        return single(Tok::kComma);
      case '=':
        return single(Tok::kAssign);
      case '^':
        return single(Tok::kPow);
      case '*':
        return single(Tok::kMul);
      case '/':
        return single(Tok::kDiv);
      case '%':
        return single(Tok::kMod);
      case '+':
        return single(Tok::kAdd);
      case '-':
        return single(Tok::kSub);
      case '>':
        return single(Tok::kGt);
      case '<':
        return single(Tok::kLt);
      case '"':
      case '\'':
      case '`':
        return LexString(c);
      default:
        break;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && at_ + 1 < src_.size() &&
         std::isdigit(static_cast<unsigned char>(src_[at_ + 1])))) {
      size_t start = at_;
      while (at_ < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[at_])) || src_[at_] == '.' ||
              ((src_[at_] == '+' || src_[at_] == '-') &&
               (src_[at_ - 1] == 'e' || src_[at_ - 1] == 'E')))) {
        ++at_;
      }
      tok_.text = std::string(src_.substr(start, at_ - start));
      tok_.kind = ParsePromDuration(tok_.text) >= 0 ? Tok::kDuration : Tok::kNumber;
      if (tok_.kind == Tok::kNumber) {
        char* end = nullptr;
        std::strtod(tok_.text.c_str(), &end);
        if (*end != '\0') return LexFail(start, "bad number or duration " + Quoted(tok_.text));
      }
      return Status::OK();
    }
    if (IsNameStart(c, true)) {
      size_t start = at_;
      while (at_ < src_.size() && IsNameChar(src_[at_], true)) ++at_;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(src_.substr(start, at_ - start));
      return Status::OK();
    }
    return LexFail(at_, fmt::format("unexpected character '{}'", c));
  }

  Status LexString(char quote) {
    size_t start = at_++;
    std::string out;
    while (at_ < src_.size() && src_[at_] != quote) {
      char c = src_[at_++];
      if (c == '\\' && quote != '`') {
        if (at_ >= src_.size()) break;
        char e = src_[at_++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case '\\':
            out += '\\';
            break;
          case '"':
            out += '"';
            break;
          case '\'':
            out += '\'';
            break;
          default:
            // Regex escapes such as \d or \. are kept for the regex engine.
            out += '\\';
            out += e;
        }
        continue;
      }
      if (c == '\n' && quote != '`') return LexFail(start, "unterminated string");
      out += c;
    }
    if (at_ >= src_.size()) return LexFail(start, "unterminated string");
    ++at_;
    tok_.kind = Tok::kString;
    tok_.text = std::move(out);
    return Status::OK();
  }

  // ---- helpers ----
  void Fail(size_t pos, std::string msg) {
    if (!failed_) {
      failed_ = true;
      error_.pos = pos;
      error_.message = std::move(msg);
    }
  }
  Status LexFail(size_t pos, std::string msg) {
    Fail(pos, std::move(msg));
    return InvalidInput("parse");
  }

  static std::string Quoted(std::string_view s) { return fmt::format("\"{}\"", s); }

  std::string Describe(const Token& t) const {
    switch (t.kind) {
      case Tok::kEof:
        return "end of expression";
      case Tok::kIdent:
        return "identifier " + Quoted(t.text);
      case Tok::kNumber:
        return "number " + t.text;
      case Tok::kDuration:
        return "duration " + t.text;
      case Tok::kString:
        return "string " + Quoted(t.text);
      default:
        return Quoted(src_.substr(t.pos, at_ - t.pos));
    }
  }

  bool Expect(Tok kind, std::string_view what) {
    if (failed_) return false;
    if (tok_.kind != kind) {
      Fail(tok_.pos, fmt::format("expected {}, found {}", what, Describe(tok_)));
      return false;
    }
    return Next().ok();
  }

  static ExprPtr Make(Expr::Kind k, ValueType t, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->type = t;
    e->pos = pos;
    return e;
  }

  // ---- grammar ----
  struct OpInfo {
    BinOp op;
    int prec;
    bool right;
  };

  bool PeekBinOp(OpInfo* info) const {
    switch (tok_.kind) {
      case Tok::kPow:
        *info = {BinOp::kPow, 6, true};
        return true;
      case Tok::kMul:
        *info = {BinOp::kMul, 5, false};
        return true;
      case Tok::kDiv:
        *info = {BinOp::kDiv, 5, false};
        return true;
      case Tok::kMod:
        *info = {BinOp::kMod, 5, false};
        return true;
      case Tok::kAdd:
        *info = {BinOp::kAdd, 4, false};
        return true;
      case Tok::kSub:
        *info = {BinOp::kSub, 4, false};
        return true;
      case Tok::kEql:
        *info = {BinOp::kEq, 3, false};
        return true;
      case Tok::kNeq:
        *info = {BinOp::kNe, 3, false};
        return true;
      case Tok::kGt:
        *info = {BinOp::kGt, 3, false};
        return true;
      case Tok::kLt:
        *info = {BinOp::kLt, 3, false};
        return true;
      case Tok::kGe:
        *info = {BinOp::kGe, 3, false};
        return true;
      case Tok::kLe:
        *info = {BinOp::kLe, 3, false};
        return true;
      case Tok::kIdent:
        if (tok_.text == "and") {
          *info = {BinOp::kAnd, 2, false};
          return true;
        }
        if (tok_.text == "unless") {
          *info = {BinOp::kUnless, 2, false};
          return true;
        }
        if (tok_.text == "or") {
          *info = {BinOp::kOr, 1, false};
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  ExprPtr ParseBinary(int min_prec) {
    ExprPtr lhs = ParseUnary();
    OpInfo info;
    while (!failed_ && PeekBinOp(&info) && info.prec >= min_prec) {
      size_t op_pos = tok_.pos;
      if (!Next().ok()) return nullptr;
      auto bin = Make(Expr::Kind::kBinary, ValueType::kScalar, lhs->pos);
      bin->op = info.op;
      if (tok_.kind == Tok::kIdent && tok_.text == "bool") {
        if (!IsComparison(info.op)) {
          Fail(tok_.pos, "bool modifier only goes with comparison operators");
          return nullptr;
        }
        bin->bool_mod = true;
        if (!Next().ok()) return nullptr;
      }
      if (tok_.kind == Tok::kIdent && (tok_.text == "on" || tok_.text == "ignoring")) {
        bin->matching = true;
        bin->on = tok_.text == "on";
        if (!Next().ok() || !ParseLabelList(&bin->grouping)) return nullptr;
        if (tok_.kind == Tok::kIdent && (tok_.text == "group_left" || tok_.text == "group_right")) {
          if (IsSetOp(info.op)) {
            Fail(tok_.pos, "no grouping allowed for " + std::string(BinOpName(info.op)));
            return nullptr;
          }
          bin->card = tok_.text == "group_left" ? Expr::Card::kManyToOne : Expr::Card::kOneToMany;
          if (!Next().ok()) return nullptr;
          if (tok_.kind == Tok::kLParen && !ParseLabelList(&bin->include)) return nullptr;
          for (const std::string& l : bin->include) {
            if (bin->on &&
                std::find(bin->grouping.begin(), bin->grouping.end(), l) != bin->grouping.end()) {
              Fail(tok_.pos, "label " + Quoted(l) + " must not occur in on() and group_x()");
              return nullptr;
            }
          }
        }
      }
      ExprPtr rhs = ParseBinary(info.right ? info.prec : info.prec + 1);
      if (failed_) return nullptr;
      bin->lhs = std::move(lhs);
      bin->rhs = std::move(rhs);
      if (!TypeBinary(bin.get(), op_pos)) return nullptr;
      lhs = std::move(bin);
    }
    return failed_ ? nullptr : std::move(lhs);
  }

  bool TypeBinary(Expr* b, size_t op_pos) {
    ValueType l = b->lhs->type, r = b->rhs->type;
    for (ValueType t : {l, r}) {
      if (t == ValueType::kMatrix || t == ValueType::kString) {
        Fail(op_pos, fmt::format("operator {} does not apply to a {} (wrap a range selector in "
                                 "rate(), increase(), ...)",
                                 BinOpName(b->op), ValueTypeName(t)));
        return false;
      }
    }
    if (IsSetOp(b->op) && (l != ValueType::kVector || r != ValueType::kVector)) {
      Fail(op_pos,
           fmt::format("operator {} needs instant vectors on both sides", BinOpName(b->op)));
      return false;
    }
    if (IsComparison(b->op) && l == ValueType::kScalar && r == ValueType::kScalar && !b->bool_mod) {
      Fail(op_pos, "comparisons between scalars need the bool modifier");
      return false;
    }
    if (b->matching && (l != ValueType::kVector || r != ValueType::kVector)) {
      Fail(op_pos, "on()/ignoring() only apply between two vectors");
      return false;
    }
    b->type = (l == ValueType::kScalar && r == ValueType::kScalar) ? ValueType::kScalar
                                                                   : ValueType::kVector;
    return true;
  }

  ExprPtr ParseUnary() {
    if (failed_) return nullptr;
    if (tok_.kind == Tok::kSub || tok_.kind == Tok::kAdd) {
      bool neg = tok_.kind == Tok::kSub;
      size_t pos = tok_.pos;
      if (!Next().ok()) return nullptr;
      ExprPtr x = ParseBinary(6);  // binds looser than ^ (-2^2 is -4), tighter than *
      if (failed_) return nullptr;
      if (x->type != ValueType::kScalar && x->type != ValueType::kVector) {
        Fail(pos, fmt::format("unary minus does not apply to a {}", ValueTypeName(x->type)));
        return nullptr;
      }
      if (!neg) return x;
      if (x->kind == Expr::Kind::kNumber) {
        x->number = -x->number;
        x->pos = pos;
        return x;
      }
      auto e = Make(Expr::Kind::kNegate, x->type, pos);
      e->args.push_back(std::move(x));
      return e;
    }
    ExprPtr e = ParsePrimary();
    if (failed_) return nullptr;
    while (tok_.kind == Tok::kLBracket) {  // a second [..] is an error, named
      e = ParseRangeOrSubquery(std::move(e));
      if (failed_) return nullptr;
    }
    if (!ParseModifiers(e.get())) return nullptr;
    return e;
  }

  // `[5m]` after a selector, or `[30m:1m]` / `[30m:]` after any instant vector expression.
  ExprPtr ParseRangeOrSubquery(ExprPtr e) {
    const size_t pos = tok_.pos;
    if (!Next().ok()) return nullptr;
    if (tok_.kind != Tok::kDuration) {
      Fail(tok_.pos, "expected a duration such as 5m, found " + Describe(tok_));
      return nullptr;
    }
    const int64_t range = ParsePromDuration(tok_.text);
    if (range <= 0) {
      Fail(tok_.pos, "the range must be positive");
      return nullptr;
    }
    if (!Next().ok()) return nullptr;
    if (tok_.kind != Tok::kColon) {
      if (e->kind != Expr::Kind::kSelector || e->range_ms > 0 || e->at != Expr::At::kNone) {
        Fail(pos, "a range [..] only follows a metric selector (or write a subquery, [5m:1m])");
        return nullptr;
      }
      if (!Expect(Tok::kRBracket, "\"]\" or \":\"")) return nullptr;
      e->range_ms = range;
      e->type = ValueType::kMatrix;
      return e;
    }
    if (e->type != ValueType::kVector) {
      Fail(pos, fmt::format("subquery is only allowed on instant vector, got {} instead",
                            ValueTypeName(e->type)));
      return nullptr;
    }
    if (!Next().ok()) return nullptr;
    int64_t step = 0;
    if (tok_.kind == Tok::kDuration) {
      step = ParsePromDuration(tok_.text);
      if (step <= 0) {
        Fail(tok_.pos, "the subquery step must be positive");
        return nullptr;
      }
      if (!Next().ok()) return nullptr;
    }
    if (!Expect(Tok::kRBracket, "\"]\"")) return nullptr;
    const int64_t steps = range / (step > 0 ? step : kDefaultSubqueryStepMs);
    if (steps > kMaxSubquerySteps) {
      Fail(pos, fmt::format("subquery would evaluate {} steps, at most {} (a longer step or a "
                            "shorter range)",
                            steps, kMaxSubquerySteps));
      return nullptr;
    }
    auto sq = Make(Expr::Kind::kSubquery, ValueType::kMatrix, e->pos);
    sq->range_ms = range;
    sq->step_ms = step;
    sq->args.push_back(std::move(e));
    return sq;
  }

  // `offset D` and `@ T` (either order, each once) after a selector or a subquery.
  bool ParseModifiers(Expr* e) {
    bool have_offset = false, have_at = false;
    while (!failed_) {
      const size_t pos = tok_.pos;
      const bool offset = tok_.kind == Tok::kIdent && tok_.text == "offset";
      if (!offset && tok_.kind != Tok::kAt) return true;
      if (e->kind != Expr::Kind::kSelector && e->kind != Expr::Kind::kSubquery) {
        Fail(pos, offset ? "offset only follows a metric selector or a subquery"
                         : "@ modifier must be preceded by an instant vector selector or range "
                           "vector selector or a subquery");
        return false;
      }
      if (offset ? have_offset : have_at) {
        Fail(pos, offset ? "offset may not be set multiple times"
                         : "@ <timestamp> may not be set multiple times");
        return false;
      }
      (offset ? have_offset : have_at) = true;
      if (!Next().ok()) return false;
      if (offset) {
        bool neg = false;
        if (tok_.kind == Tok::kSub) {
          neg = true;
          if (!Next().ok()) return false;
        }
        int64_t ms = tok_.kind == Tok::kDuration ? ParsePromDuration(tok_.text) : -1;
        if (ms < 0) {
          Fail(tok_.pos, "expected a duration such as 5m after offset, found " + Describe(tok_));
          return false;
        }
        e->offset_ms = neg ? -ms : ms;
        if (!Next().ok()) return false;
        continue;
      }
      if (tok_.kind == Tok::kIdent && (tok_.text == "start" || tok_.text == "end")) {
        e->at = tok_.text == "start" ? Expr::At::kStart : Expr::At::kEnd;
        if (!Next().ok() || !Expect(Tok::kLParen, "\"(\"") || !Expect(Tok::kRParen, "\")\"")) {
          return false;
        }
        continue;
      }
      bool neg = false;
      if (tok_.kind == Tok::kSub || tok_.kind == Tok::kAdd) {
        neg = tok_.kind == Tok::kSub;
        if (!Next().ok()) return false;
      }
      double secs = std::numeric_limits<double>::quiet_NaN();
      if (tok_.kind == Tok::kNumber) {
        secs = std::strtod(tok_.text.c_str(), nullptr);
      } else if (tok_.kind == Tok::kIdent && (tok_.text == "Inf" || tok_.text == "inf" ||
                                              tok_.text == "NaN" || tok_.text == "nan")) {
        secs = (tok_.text[0] == 'N' || tok_.text[0] == 'n')
                   ? std::numeric_limits<double>::quiet_NaN()
                   : std::numeric_limits<double>::infinity();
      } else {
        Fail(tok_.pos, "expected a timestamp, start() or end() after @, found " + Describe(tok_));
        return false;
      }
      if (neg) secs = -secs;
      // Unix seconds whose milliseconds fit an int64, as Prometheus.
      if (!std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
        Fail(tok_.pos, "timestamp out of bounds for @ modifier: " + tok_.text);
        return false;
      }
      e->at = Expr::At::kTime;
      e->at_ms = std::llround(secs * 1000);
      if (!Next().ok()) return false;
    }
    return false;
  }

  ExprPtr ParsePrimary() {
    size_t pos = tok_.pos;
    switch (tok_.kind) {
      case Tok::kNumber: {
        auto e = Make(Expr::Kind::kNumber, ValueType::kScalar, pos);
        e->number = std::strtod(tok_.text.c_str(), nullptr);
        return Next().ok() ? std::move(e) : nullptr;
      }
      case Tok::kDuration: {
        // A bare integer lexes as a duration-less number; "5m" outside [] is an error.
        Fail(pos, "a duration is only valid inside [..], found " + tok_.text);
        return nullptr;
      }
      case Tok::kString: {
        auto e = Make(Expr::Kind::kString, ValueType::kString, pos);
        e->text = tok_.text;
        return Next().ok() ? std::move(e) : nullptr;
      }
      case Tok::kLParen: {
        if (!Next().ok()) return nullptr;
        ExprPtr e = ParseBinary(0);
        if (failed_ || !Expect(Tok::kRParen, "\")\"")) return nullptr;
        return e;
      }
      case Tok::kLBrace:
        return ParseSelector("", pos);
      case Tok::kIdent: {
        std::string name = tok_.text;
        if (name == "Inf" || name == "inf" || name == "NaN" || name == "nan") {
          auto e = Make(Expr::Kind::kNumber, ValueType::kScalar, pos);
          e->number = (name[0] == 'N' || name[0] == 'n') ? std::numeric_limits<double>::quiet_NaN()
                                                         : std::numeric_limits<double>::infinity();
          return Next().ok() ? std::move(e) : nullptr;
        }
        if (!Next().ok()) return nullptr;
        if (kAggregations.count(name) &&
            (tok_.kind == Tok::kLParen ||
             (tok_.kind == Tok::kIdent && (tok_.text == "by" || tok_.text == "without")))) {
          return ParseAggregate(name, pos);
        }
        if (tok_.kind == Tok::kLParen) return ParseCall(name, pos);
        if (name == "by" || name == "without" || name == "bool" || name == "on" ||
            name == "ignoring" || name == "and" || name == "or" || name == "unless") {
          Fail(pos, "unexpected keyword " + Quoted(name));
          return nullptr;
        }
        return ParseSelector(name, pos);
      }
      default:
        Fail(pos, "expected an expression, found " + Describe(tok_));
        return nullptr;
    }
  }

  bool ParseLabelList(std::vector<std::string>* out) {
    if (!Expect(Tok::kLParen, "\"(\"")) return false;
    while (tok_.kind != Tok::kRParen) {
      if (tok_.kind != Tok::kIdent) {
        Fail(tok_.pos, "expected a label name, found " + Describe(tok_));
        return false;
      }
      out->push_back(tok_.text);
      if (!Next().ok()) return false;
      if (tok_.kind == Tok::kComma) {
        if (!Next().ok()) return false;
      } else if (tok_.kind != Tok::kRParen) {
        Fail(tok_.pos, "expected \",\" or \")\", found " + Describe(tok_));
        return false;
      }
    }
    return Next().ok();
  }

  ExprPtr ParseSelector(const std::string& name, size_t pos) {
    auto e = Make(Expr::Kind::kSelector, ValueType::kVector, pos);
    e->text = name;
    if (!name.empty()) e->matchers.push_back({"__name__", Matcher::Op::kEq, name, nullptr});
    if (tok_.kind == Tok::kLBrace) {
      if (!Next().ok()) return nullptr;
      while (tok_.kind != Tok::kRBrace) {
        if (tok_.kind != Tok::kIdent) {
          Fail(tok_.pos, "expected a label name, found " + Describe(tok_));
          return nullptr;
        }
        Matcher m;
        m.name = tok_.text;
        if (!Next().ok()) return nullptr;
        switch (tok_.kind) {
          case Tok::kAssign:
            m.op = Matcher::Op::kEq;
            break;
          case Tok::kNeq:
            m.op = Matcher::Op::kNeq;
            break;
          case Tok::kEqlRe:
            m.op = Matcher::Op::kRe;
            break;
          case Tok::kNeqRe:
            m.op = Matcher::Op::kNre;
            break;
          default:
            Fail(tok_.pos, "expected one of = != =~ !~, found " + Describe(tok_));
            return nullptr;
        }
        if (!Next().ok()) return nullptr;
        if (tok_.kind != Tok::kString) {
          Fail(tok_.pos, "expected a quoted label value, found " + Describe(tok_));
          return nullptr;
        }
        m.value = tok_.text;
        if (m.op == Matcher::Op::kRe || m.op == Matcher::Op::kNre) {
          auto re = Regex::Compile(m.value);
          if (!re.ok()) {
            Fail(tok_.pos, re.status().message());
            return nullptr;
          }
          m.re = std::move(re).value();
        }
        if (m.name == "__name__" && m.op == Matcher::Op::kEq && e->text.empty()) e->text = m.value;
        e->matchers.push_back(std::move(m));
        if (!Next().ok()) return nullptr;
        if (tok_.kind == Tok::kComma) {
          if (!Next().ok()) return nullptr;
        } else if (tok_.kind != Tok::kRBrace) {
          Fail(tok_.pos, "expected \",\" or \"}\", found " + Describe(tok_));
          return nullptr;
        }
      }
      if (!Next().ok()) return nullptr;
    }
    bool any_nonempty = false;
    for (const Matcher& m : e->matchers) {
      if (!m.Matches("")) any_nonempty = true;
    }
    if (!any_nonempty) {
      Fail(pos, "a selector needs a metric name or a matcher that does not match the empty value");
      return nullptr;
    }
    return e;
  }

  ExprPtr ParseAggregate(const std::string& name, size_t pos) {
    auto e = Make(Expr::Kind::kAggregate, ValueType::kVector, pos);
    e->text = name;
    bool grouped = false;
    auto grouping = [&]() -> bool {
      if (tok_.kind == Tok::kIdent && (tok_.text == "by" || tok_.text == "without")) {
        if (grouped) {
          Fail(tok_.pos, "by/without given twice");
          return false;
        }
        grouped = true;
        e->without = tok_.text == "without";
        return Next().ok() && ParseLabelList(&e->grouping);
      }
      return true;
    };
    if (!grouping()) return nullptr;
    if (!Expect(Tok::kLParen, "\"(\"")) return nullptr;
    if (TakesParam(name)) {
      size_t param_pos = tok_.pos;
      ExprPtr param = ParseBinary(0);
      if (failed_ || !Expect(Tok::kComma, "\",\"")) return nullptr;
      const ValueType want = name == "count_values" ? ValueType::kString : ValueType::kScalar;
      if (param->type != want) {
        Fail(param_pos, fmt::format("{}() needs a {} parameter first, got a {}", name,
                                    ValueTypeName(want), ValueTypeName(param->type)));
        return nullptr;
      }
      if (name == "count_values" && !IsLabelName(param->text)) {
        Fail(param_pos, fmt::format("count_values(): invalid label name {}", Quoted(param->text)));
        return nullptr;
      }
      e->args.push_back(std::move(param));
    }
    size_t arg_pos = tok_.pos;
    ExprPtr arg = ParseBinary(0);
    if (failed_ || !Expect(Tok::kRParen, "\")\"")) return nullptr;
    if (arg->type != ValueType::kVector) {
      Fail(arg_pos,
           fmt::format("{}() needs an instant vector, got a {}", name, ValueTypeName(arg->type)));
      return nullptr;
    }
    e->args.push_back(std::move(arg));
    if (!grouping()) return nullptr;
    return e;
  }

  ExprPtr ParseCall(const std::string& name, size_t pos) {
    const FuncSig* sig = FindFunc(name);
    if (!sig) {
      Fail(pos, "unknown function " + Quoted(name));
      return nullptr;
    }
    auto e = Make(Expr::Kind::kCall, sig->ret, pos);
    e->text = name;
    if (!Next().ok()) return nullptr;  // (
    std::vector<size_t> positions;
    while (tok_.kind != Tok::kRParen) {
      positions.push_back(tok_.pos);
      ExprPtr a = ParseBinary(0);
      if (failed_) return nullptr;
      e->args.push_back(std::move(a));
      if (tok_.kind == Tok::kComma) {
        if (!Next().ok()) return nullptr;
      } else if (tok_.kind != Tok::kRParen) {
        Fail(tok_.pos, "expected \",\" or \")\", found " + Describe(tok_));
        return nullptr;
      }
    }
    size_t close = tok_.pos;
    if (!Next().ok()) return nullptr;
    const size_t min_args = sig->variadic ? sig->args.size() - 1 : sig->args.size();
    if (sig->variadic && e->args.size() < min_args) {
      Fail(close,
           fmt::format("{}() takes at least {} arguments, got {}", name, min_args, e->args.size()));
      return nullptr;
    }
    if (!sig->variadic && e->args.size() != sig->args.size()) {
      Fail(e->args.size() > sig->args.size() ? positions[sig->args.size()] : close,
           fmt::format("{}() takes {} argument{}, got {}", name, sig->args.size(),
                       sig->args.size() == 1 ? "" : "s", e->args.size()));
      return nullptr;
    }
    for (size_t i = 0; i < e->args.size(); ++i) {
      const ValueType want = i < sig->args.size() ? sig->args[i] : sig->args.back();
      if (e->args[i]->type != want) {
        Fail(positions[i], fmt::format("{}() argument {} must be a {}, got a {}", name, i + 1,
                                       ValueTypeName(want), ValueTypeName(e->args[i]->type)));
        return nullptr;
      }
    }
    // The literal arguments of the label functions are checked here, so a rule that would
    // fail at every evaluation in Prometheus is refused at load instead.
    if (name == "label_replace" || name == "label_join") {
      if (!IsLabelName(e->args[1]->text)) {
        Fail(positions[1], fmt::format("{}(): invalid destination label name {}", name,
                                       Quoted(e->args[1]->text)));
        return nullptr;
      }
      // label_join's sources are checked (as Prometheus does); label_replace's source is
      // only read, and a name no series has reads as "".
      for (size_t i = 3; name == "label_join" && i < e->args.size(); ++i) {
        if (!IsLabelName(e->args[i]->text)) {
          Fail(positions[i],
               fmt::format("{}(): invalid source label name {}", name, Quoted(e->args[i]->text)));
          return nullptr;
        }
      }
    }
    if (name == "label_replace") {
      auto re = Regex::Compile(e->args[4]->text);
      if (!re.ok()) {
        Fail(positions[4], "label_replace(): " + re.status().message());
        return nullptr;
      }
      e->regex = std::move(re).value();
    }
    return e;
  }

  std::string_view src_;
  size_t at_ = 0;
  Token tok_;
  bool failed_ = false;
  bool in_brackets_ = false;
  ParseError error_;
};

}  // namespace

Result<ExprPtr> Parse(std::string_view text, ParseError* err) {
  Parser p(text);
  return p.Run(err);
}

int64_t MaxRangeMs(const Expr& e) {
  int64_t m = e.range_ms;
  if (e.kind == Expr::Kind::kSubquery) {
    return e.range_ms + (e.args.empty() ? 0 : MaxRangeMs(*e.args[0]));
  }
  for (const auto& a : e.args) m = std::max(m, MaxRangeMs(*a));
  if (e.lhs) m = std::max(m, MaxRangeMs(*e.lhs));
  if (e.rhs) m = std::max(m, MaxRangeMs(*e.rhs));
  return m;
}

}  // namespace slipway::promql

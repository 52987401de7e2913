#include "flags/json_logic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "flags/fractional.h"
#include "flags/semver.h"
#include "flags/short_key.h"

namespace slipway::flags {

const Json Value::kNullJson;

namespace {

using ExprPtr = std::unique_ptr<Expr>;

const Json kNull;

// Truthy() with the boolean case inline: most conditions yield a boolean.
inline bool IsTruthy(const Json& v) { return v.is_boolean() ? v.get<bool>() : Truthy(v); }
const Json kTrue(true);
const Json kFalse(false);

Value Bool(bool b) { return Value::Ref(b ? &kTrue : &kFalse); }
Value Number(double d) { return Value(Json(d)); }

// clang-format off
enum class Op {
  kIf, kEq, kNe, kStrictEq, kStrictNe, kLt, kLe, kGt, kGe, kNot, kNotNot, kAnd, kOr, kIn,
  kCat, kSubstr, kAdd, kSub, kMul, kDiv, kMod, kMin, kMax, kMerge, kMissing, kMissingSome,
  kStartsWith, kEndsWith, kSemVer, kFractional,
  kSome, kAll, kNone, kMap, kFilter, kReduce, kVar,
};
// clang-format on

struct OpInfo {
  Op op;
  int arity;  // exact number of arguments required by flagd's schema; -1 = any
};

// clang-format off
const std::map<std::string, OpInfo, std::less<>>& Ops() {
  static const auto* ops = new std::map<std::string, OpInfo, std::less<>>{
      {"if", {Op::kIf, -1}},          {"?:", {Op::kIf, -1}},
      {"==", {Op::kEq, 2}},           {"!=", {Op::kNe, 2}},
      {"===", {Op::kStrictEq, 2}},    {"!==", {Op::kStrictNe, 2}},
      {"<", {Op::kLt, -1}},           {"<=", {Op::kLe, -1}},
      {">", {Op::kGt, 2}},            {">=", {Op::kGe, 2}},
      {"!", {Op::kNot, -1}},          {"!!", {Op::kNotNot, -1}},
      {"and", {Op::kAnd, -1}},        {"or", {Op::kOr, -1}},
      {"in", {Op::kIn, 2}},           {"cat", {Op::kCat, -1}},
      {"substr", {Op::kSubstr, -1}},  {"+", {Op::kAdd, -1}},
      {"-", {Op::kSub, -1}},          {"*", {Op::kMul, -1}},
      {"/", {Op::kDiv, 2}},           {"%", {Op::kMod, 2}},
      {"min", {Op::kMin, -1}},        {"max", {Op::kMax, -1}},
      {"merge", {Op::kMerge, -1}},    {"missing", {Op::kMissing, -1}},
      {"missing_some", {Op::kMissingSome, 2}},
      {"starts_with", {Op::kStartsWith, 2}}, {"ends_with", {Op::kEndsWith, 2}},
      {"sem_ver", {Op::kSemVer, 3}},  {"fractional", {Op::kFractional, -1}},
      {"some", {Op::kSome, 2}},       {"all", {Op::kAll, 2}},
      {"none", {Op::kNone, 2}},       {"map", {Op::kMap, 2}},
      {"filter", {Op::kFilter, 2}},   {"reduce", {Op::kReduce, -1}},
      {"var", {Op::kVar, -1}},
  };
  return *ops;
}
// clang-format on

class Literal final : public Expr {
 public:
  explicit Literal(Json v) : v_(std::move(v)) {}
  Value Eval(const Scope&) const override { return Value::Ref(&v_); }
  const Json* AsLiteral() const override { return &v_; }

 private:
  Json v_;
};

// Where flagd's JsonLogic library fails (an unknown operator, a standard operator with the
// wrong number of arguments): the evaluation is marked failed and yields null.
class FailExpr final : public Expr {
 public:
  Value Eval(const Scope& s) const override {
    if (s.env->failed != nullptr) *s.env->failed = true;
    return Value();
  }
};

class ArrayExpr final : public Expr {
 public:
  explicit ArrayExpr(std::vector<ExprPtr> items) : items_(std::move(items)) {}
  Value Eval(const Scope& s) const override {
    Json out = Json::array();
    for (const auto& e : items_) out.push_back(e->Eval(s).Take());
    return Value(std::move(out));
  }

 private:
  std::vector<ExprPtr> items_;
};

std::vector<std::string> SplitPath(std::string_view p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = p.find('.', start);
    out.emplace_back(
        p.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

bool ParseIndex(const std::string& s, size_t* out) {
  if (s.empty() || s.size() > 18) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

// One path segment: an object member, or an array index.
const Json* Step(const Json* cur, const std::string& seg) {
  if (cur->is_object()) return FindMember(*cur, seg);
  if (cur->is_array()) {
    size_t i;
    if (!ParseIndex(seg, &i) || i >= cur->size()) return nullptr;
    return &(*cur)[i];
  }
  return nullptr;
}

// Resolves a pre-split path against a scope; `$flagd.*` is answered from the environment.
// `flagd` says whether path[0] is "$flagd" (known at compile time for literal paths).
Value Resolve(const Scope& s, const std::vector<std::string>& path, bool flagd) {
  if (s.top && flagd) {
    if (path.size() == 1) {
      return Value(Json{{"flagKey", s.env->flag_key ? *s.env->flag_key : kNull},
                        {"timestamp", s.env->timestamp_s}});
    }
    if (path.size() == 2 && path[1] == "flagKey") {
      return Value::Ref(s.env->flag_key ? s.env->flag_key : &kNull);
    }
    if (path.size() == 2 && path[1] == "timestamp") return Value(Json(s.env->timestamp_s));
    return Value();
  }
  const Json* cur = s.data;
  for (const std::string& seg : path) {
    cur = Step(cur, seg);
    if (cur == nullptr) return Value();
  }
  return Value::Ref(cur);
}

bool StartsWithFlagd(const std::vector<std::string>& path) {
  return !path.empty() && path[0] == "$flagd";
}

Value Resolve(const Scope& s, const std::vector<std::string>& path) {
  return Resolve(s, path, StartsWithFlagd(path));
}

class VarExpr final : public Expr {
 public:
  VarExpr(std::vector<std::string> path, bool whole, ExprPtr dynamic, ExprPtr fallback)
      : path_(std::move(path)),
        flagd_(StartsWithFlagd(path_)),
        whole_(whole),
        dynamic_(std::move(dynamic)),
        fallback_(std::move(fallback)) {}

  Value Eval(const Scope& s) const override {
    Value v;
    if (dynamic_) {
      Value p = dynamic_->Eval(s);
      const Json& pj = p.get();
      if (pj.is_null() || (pj.is_string() && pj.get_ref<const std::string&>().empty())) {
        v = Value::Ref(s.data);
      } else {
        v = Resolve(s, SplitPath(ToJsString(pj)));
      }
    } else if (whole_) {
      v = Value::Ref(s.data);
    } else {
      v = Resolve(s, path_, flagd_);
    }
    if (v.get().is_null() && fallback_) return fallback_->Eval(s);
    return v;
  }

 private:
  std::vector<std::string> path_;
  bool flagd_;  // path_ starts with "$flagd"
  bool whole_;
  ExprPtr dynamic_;   // the path is computed
  ExprPtr fallback_;  // the default when the value is missing or null
};

// `{"var": "key"}` without a default: one member of the data, the most common node of all.
class KeyVarExpr final : public Expr {
 public:
  explicit KeyVarExpr(std::string key) : key_(std::move(key)) {}
  Value Eval(const Scope& s) const override {
    const Json* v = Step(s.data, key_);
    return v ? Value::Ref(v) : Value();
  }

 private:
  std::string key_;
};

// Appends flag key + targeting key, the default bucketing value; false when there is none.
bool DefaultBucketBy(const Scope& s, std::string* out) {
  const Json* tk = s.view->targeting_key();
  if (tk == nullptr || s.env->flag_key == nullptr) return false;
  if (tk->is_string()) {
    // The usual targeting key: a non-empty string, appended without conversion.
    const std::string& k = tk->get_ref<const std::string&>();
    if (k.empty()) return false;
    out->assign(s.env->flag_key->get_ref<const std::string&>());
    out->append(k);
    return true;
  }
  if (!Truthy(*tk)) return false;
  out->assign(s.env->flag_key->get_ref<const std::string&>());
  AppendJsString(*tk, out);
  return true;
}

// The hash of flag key + targeting key without building a string on the heap (the usual
// fractional: no bucketing expression, a string targeting key); nullopt when there is none.
std::optional<uint32_t> DefaultBucketHash(const Scope& s) {
  const Json* tk = s.view->targeting_key();
  if (tk != nullptr && tk->is_string() && s.env->flag_key != nullptr) {
    const std::string& flag = s.env->flag_key->get_ref<const std::string&>();
    const std::string& key = tk->get_ref<const std::string&>();
    if (key.empty()) return std::nullopt;
    char buf[256];
    if (flag.size() + key.size() <= sizeof buf) {
      std::memcpy(buf, flag.data(), flag.size());
      std::memcpy(buf + flag.size(), key.data(), key.size());
      return FractionalHash(std::string_view(buf, flag.size() + key.size()));
    }
  }
  thread_local std::string bucket_by;
  if (!DefaultBucketBy(s, &bucket_by)) return std::nullopt;
  return FractionalHash(bucket_by);
}

// One `fractional` entry, [variant] or [variant, weight]: the variant a string, number, bool or
// null, the weight an integer (an integral float counts); false when malformed (the operator
// then yields null). The compile-time plan and the per-call path both read entries here.
bool ReadFractionalEntry(const Json& e, int64_t* weight) {
  if (!e.is_array() || e.empty() || e.size() > 2) return false;
  const Json& variant = e[0];
  if (!(variant.is_string() || variant.is_number() || variant.is_boolean() || variant.is_null())) {
    return false;
  }
  *weight = 1;
  if (e.size() == 1) return true;
  const Json& wj = e[1];
  if (wj.is_number_integer()) {
    *weight = wj.get<int64_t>();
    return true;
  }
  if (wj.is_number_float() && std::trunc(wj.get<double>()) == wj.get<double>() &&
      std::fabs(wj.get<double>()) < 9e15) {
    *weight = static_cast<int64_t>(wj.get<double>());
    return true;
  }
  return false;
}

// The bucket-by value and weighted entries of `fractional`, already evaluated.
Value Fractional(const Scope& s, const std::vector<ExprPtr>& args) {
  if (args.empty()) return Value();
  constexpr size_t kInline = 16;
  Value inline_vals[kInline];
  std::vector<Value> heap_vals;
  Value* vals = inline_vals;
  if (args.size() > kInline) {
    heap_vals.resize(args.size());
    vals = heap_vals.data();
  }
  for (size_t i = 0; i < args.size(); ++i) vals[i] = args[i]->Eval(s);

  thread_local std::string bucket_by;
  size_t first = 0;
  if (vals[0].get().is_string()) {
    bucket_by.assign(vals[0].get().get_ref<const std::string&>());
    first = 1;
  } else if (!DefaultBucketBy(s, &bucket_by)) {
    return Value();
  }
  const size_t n = args.size() - first;
  if (n == 0) return Value();
  int64_t inline_w[kInline];
  std::vector<int64_t> heap_w;
  int64_t* weights = inline_w;
  if (n > kInline) {
    heap_w.resize(n);
    weights = heap_w.data();
  }
  for (size_t i = 0; i < n; ++i) {
    if (!ReadFractionalEntry(vals[first + i].get(), &weights[i])) return Value();
  }
  auto idx = FractionalBucket(FractionalHash(bucket_by), std::span<const int64_t>(weights, n));
  if (!idx) return Value();
  const Value& chosen = vals[first + *idx];
  if (chosen.is_ref()) return Value::Ref(&chosen.get()[0]);
  return Value(chosen.get()[0]);
}

// The weighted entries of a `fractional` whose entries are all literals (the usual case),
// checked once at compile time exactly as Fractional() checks them per call.
struct FractionalPlan {
  bool valid = false;                 // false: the entries are malformed, the result is null
  FractionalTable table;              // the weights summed, for the per-call choice
  std::vector<const Json*> variants;  // entry[0] of each entry, inside the literal nodes
};

FractionalPlan PlanFractional(const std::vector<ExprPtr>& args, size_t first) {
  FractionalPlan plan;
  if (first >= args.size()) return plan;
  std::vector<int64_t> weights;
  for (size_t i = first; i < args.size(); ++i) {
    const Json* lit = args[i]->AsLiteral();
    int64_t w;
    if (lit == nullptr || !ReadFractionalEntry(*lit, &w)) return plan;
    weights.push_back(w);
    plan.variants.push_back(&(*lit)[0]);
  }
  plan.valid = true;
  plan.table = FractionalTable(weights);
  return plan;
}

// Whether every entry from `first` on is a literal, i.e. PlanFractional's verdict is final.
bool AllLiteral(const std::vector<ExprPtr>& args, size_t first) {
  for (size_t i = first; i < args.size(); ++i) {
    if (args[i]->AsLiteral() == nullptr) return false;
  }
  return true;
}

double Arith(Op op, const Scope& s, const std::vector<ExprPtr>& args) {
  if (args.empty()) return op == Op::kMul ? 1 : 0;
  double acc = ToNumber(args[0]->Eval(s).get());
  if (op == Op::kSub && args.size() == 1) return -acc;
  for (size_t i = 1; i < args.size(); ++i) {
    double x = ToNumber(args[i]->Eval(s).get());
    switch (op) {
      case Op::kAdd:
        acc += x;
        break;
      case Op::kSub:
        acc -= x;
        break;
      case Op::kMul:
        acc *= x;
        break;
      case Op::kDiv:
        acc /= x;
        break;
      case Op::kMod:
        acc = std::fmod(acc, x);
        break;
      case Op::kMin:
        acc = (std::isnan(acc) || std::isnan(x)) ? NAN : std::min(acc, x);
        break;
      case Op::kMax:
        acc = (std::isnan(acc) || std::isnan(x)) ? NAN : std::max(acc, x);
        break;
      default:
        break;
    }
  }
  return acc;
}

// JavaScript's String.prototype.substr(start, length).
std::string Substr(const std::string& str, double start, std::optional<double> len) {
  const double size = static_cast<double>(str.size());
  if (std::isnan(start)) start = 0;
  if (start < 0) start = std::max(0.0, size + start);
  start = std::min(start, size);
  double count = size - start;
  if (len) count = std::clamp(std::isnan(*len) ? 0.0 : std::trunc(*len), 0.0, size - start);
  return str.substr(static_cast<size_t>(start), static_cast<size_t>(count));
}

class OpExpr final : public Expr {
 public:
  OpExpr(Op op, std::vector<ExprPtr> args) : op_(op), args_(std::move(args)) {}

  Value Eval(const Scope& s) const override {
    switch (op_) {
      case Op::kEq:
        return Bool(LooseEquals(Arg(s, 0).get(), Arg(s, 1).get()));
      case Op::kNe:
        return Bool(!LooseEquals(Arg(s, 0).get(), Arg(s, 1).get()));
      case Op::kStrictEq:
        return Bool(StrictEquals(Arg(s, 0).get(), Arg(s, 1).get()));
      case Op::kStrictNe:
        return Bool(!StrictEquals(Arg(s, 0).get(), Arg(s, 1).get()));
      case Op::kLt:
      case Op::kLe: {
        auto cmp = op_ == Op::kLt ? LessThan : LessOrEqual;
        Value a = Arg(s, 0), b = Arg(s, 1);
        if (!cmp(a.get(), b.get())) return Bool(false);
        if (args_.size() < 3) return Bool(true);
        return Bool(cmp(b.get(), Arg(s, 2).get()));  // between: a < b < c
      }
      case Op::kGt:
        return Bool(LessThan(Arg(s, 1).get(), Arg(s, 0).get()));
      case Op::kGe:
        return Bool(LessOrEqual(Arg(s, 1).get(), Arg(s, 0).get()));
      case Op::kNot:
        return Bool(!Truthy(Arg(s, 0).get()));
      case Op::kNotNot:
        return Bool(Truthy(Arg(s, 0).get()));
      case Op::kCat: {
        std::string out;
        for (const auto& a : args_) {
          Value v = a->Eval(s);
          if (!v.get().is_null()) AppendJsString(v.get(), &out);
        }
        return Value(Json(std::move(out)));
      }
      case Op::kSubstr: {
        std::string str = ToJsString(Arg(s, 0).get());
        double start = args_.size() > 1 ? ToNumber(Arg(s, 1).get()) : 0;
        if (args_.size() > 2) {
          double len = ToNumber(Arg(s, 2).get());
          if (len < 0) {
            std::string rest = Substr(str, start, std::nullopt);
            return Value(Json(Substr(rest, 0, static_cast<double>(rest.size()) + len)));
          }
          return Value(Json(Substr(str, start, len)));
        }
        return Value(Json(Substr(str, start, std::nullopt)));
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod:
        return Number(Arith(op_, s, args_));
      case Op::kMin:
      case Op::kMax:
        if (args_.empty()) return Value();
        return Number(Arith(op_, s, args_));
      case Op::kMerge: {
        Json out = Json::array();
        for (const auto& a : args_) {
          Value v = a->Eval(s);
          if (v.get().is_array()) {
            for (const Json& e : v.get()) out.push_back(e);
          } else {
            out.push_back(std::move(v).Take());
          }
        }
        return Value(std::move(out));
      }
      case Op::kMissing:
        return Value(Missing(s, 0));
      case Op::kMissingSome: {
        double need = ToNumber(Arg(s, 0).get());
        Value keys = Arg(s, 1);
        Json missing = Json::array();
        size_t found = 0;
        if (keys.get().is_array()) {
          for (const Json& k : keys.get()) {
            if (IsMissing(s, k)) {
              missing.push_back(k);
            } else {
              ++found;
            }
          }
        }
        if (static_cast<double>(found) >= need) return Value(Json::array());
        return Value(std::move(missing));
      }
      default:
        return Value();
    }
  }

 private:
  Value Arg(const Scope& s, size_t i) const {
    return i < args_.size() ? args_[i]->Eval(s) : Value();
  }

  bool IsMissing(const Scope& s, const Json& key) const {
    Value v = Resolve(s, SplitPath(ToJsString(key)));
    return v.get().is_null() ||
           (v.get().is_string() && v.get().get_ref<const std::string&>().empty());
  }

  Json Missing(const Scope& s, size_t from) const {
    Json out = Json::array();
    for (size_t i = from; i < args_.size(); ++i) {
      Value k = args_[i]->Eval(s);
      if (k.get().is_array()) {
        for (const Json& e : k.get()) {
          if (IsMissing(s, e)) out.push_back(e);
        }
      } else if (IsMissing(s, k.get())) {
        out.push_back(k.get());
      }
    }
    return out;
  }

  Op op_;
  std::vector<ExprPtr> args_;
};

// The operators every targeting rule uses have their own small nodes: each Eval is a short
// function with a small frame, and literal operands are prepared once at compile time.

// if / ?: : condition-branch pairs and an optional else.
class IfExpr final : public Expr {
 public:
  explicit IfExpr(std::vector<ExprPtr> args) : args_(std::move(args)) {}
  Value Eval(const Scope& s) const override {
    size_t i = 0;
    for (; i + 1 < args_.size(); i += 2) {
      if (IsTruthy(args_[i]->Eval(s).get())) return args_[i + 1]->Eval(s);
    }
    if (i < args_.size()) return args_[i]->Eval(s);
    return Value();
  }

 private:
  std::vector<ExprPtr> args_;
};

// and / or: the first falsy (truthy) operand, else the last.
class AndOrExpr final : public Expr {
 public:
  AndOrExpr(bool is_and, std::vector<ExprPtr> args) : and_(is_and), args_(std::move(args)) {}
  Value Eval(const Scope& s) const override {
    Value last;
    for (const auto& a : args_) {
      last = a->Eval(s);
      if (IsTruthy(last.get()) != and_) return last;
    }
    return last;
  }

 private:
  bool and_;
  std::vector<ExprPtr> args_;
};

// in: substring of a string, or membership (strict equality) in an array. A literal array's
// strings are listed at compile time, so the usual `{"in": [{"var": "tier"}, ["gold", ...]]}`
// compares views.
class InExpr final : public Expr {
 public:
  InExpr(ExprPtr needle, ExprPtr hay) : needle_(std::move(needle)), hay_(std::move(hay)) {
    const Json* lit = hay_->AsLiteral();
    if (lit != nullptr && lit->is_array()) {
      literal_array_ = true;
      for (const Json& e : *lit) {
        if (e.is_string()) strings_.emplace_back(e.get_ref<const std::string&>());
      }
    }
  }

  Value Eval(const Scope& s) const override {
    Value needle = needle_->Eval(s);
    const Json& n = needle.get();
    if (literal_array_ && n.is_string()) {
      // A string is strictly equal only to an equal string.
      const std::string& ns = n.get_ref<const std::string&>();
      for (std::string_view e : strings_) {
        if (SameKey(e, ns)) return Bool(true);
      }
      return Bool(false);
    }
    Value hay = hay_->Eval(s);
    const Json& h = hay.get();
    if (h.is_string()) {
      const std::string& hs = h.get_ref<const std::string&>();
      if (n.is_string()) return Bool(hs.find(n.get_ref<const std::string&>()) != std::string::npos);
      return Bool(hs.find(ToJsString(n)) != std::string::npos);
    }
    if (h.is_array()) {
      for (const Json& e : h) {
        if (StrictEquals(e, n)) return Bool(true);
      }
    }
    return Bool(false);
  }

 private:
  ExprPtr needle_;
  ExprPtr hay_;
  bool literal_array_ = false;
  std::vector<std::string_view> strings_;  // the literal array's strings (views into hay_)
};

// starts_with / ends_with (flagd): both operands strings, else null.
class AffixExpr final : public Expr {
 public:
  AffixExpr(bool starts, ExprPtr a, ExprPtr b)
      : starts_(starts), a_(std::move(a)), b_(std::move(b)) {}
  Value Eval(const Scope& s) const override {
    Value a = a_->Eval(s), b = b_->Eval(s);
    if (!a.get().is_string() || !b.get().is_string()) return Value();
    std::string_view x = a.get().get_ref<const std::string&>();
    std::string_view y = b.get().get_ref<const std::string&>();
    return Bool(starts_ ? KeyStartsWith(x, y) : KeyEndsWith(x, y));
  }

 private:
  bool starts_;
  ExprPtr a_;
  ExprPtr b_;
};

// sem_ver (flagd): [version, operator, version]; null when a version or the operator is bad.
// With a literal operator and a plain literal version on the right (the usual rule), a plain
// context version is compared as three numbers without building a SemVer.
class SemVerExpr final : public Expr {
 public:
  explicit SemVerExpr(std::vector<ExprPtr> args) : args_(std::move(args)) {
    SLIPWAY_CHECK(args_.size() == 3);  // the compiler checks sem_ver's arity
    if (const Json* lit = args_[2]->AsLiteral()) {
      const std::string text = ToJsString(*lit);
      rhs_ = ParseSemVer(text);
      rhs_plain_ = ParsePlainSemVer(text, rhs_triple_);
    }
    if (const Json* lit = args_[1]->AsLiteral()) op_ = ParseSemVerOp(ToJsString(*lit));
  }

  Value Eval(const Scope& s) const override {
    Value av = args_[0]->Eval(s);
    if (op_ && rhs_plain_ && av.get().is_string()) {
      uint64_t a[3];
      if (ParsePlainSemVer(av.get().get_ref<const std::string&>(), a)) {
        return Bool(PlainSemVerMatches(a, *op_, rhs_triple_));
      }
    }
    return General(s, av);
  }

 private:
  Value General(const Scope& s, const Value& av) const {
    auto a = av.get().is_string() ? ParseSemVer(av.get().get_ref<const std::string&>())
                                  : ParseSemVer(ToJsString(av.get()));
    std::optional<SemVer> parsed;
    const SemVer* b = rhs_ ? &*rhs_ : nullptr;
    if (b == nullptr && (parsed = ParseSemVer(ToJsString(args_[2]->Eval(s).get())))) b = &*parsed;
    if (!a || b == nullptr) return Value();
    if (op_) return Bool(SemVerMatches(*a, *op_, *b));
    Value opv = args_[1]->Eval(s);
    auto r = opv.get().is_string() ? SemVerMatches(*a, opv.get().get_ref<const std::string&>(), *b)
                                   : SemVerMatches(*a, ToJsString(opv.get()), *b);
    if (!r) return Value();
    return Bool(*r);
  }

  std::vector<ExprPtr> args_;
  std::optional<SemVer> rhs_;  // a literal right-hand version
  bool rhs_plain_ = false;     // ... that is a plain X.Y.Z, in rhs_triple_
  uint64_t rhs_triple_[3] = {0, 0, 0};
  std::optional<SemVerOp> op_;  // a literal, known operator
};

// fractional (flagd): literal entries are checked and their weights summed once, here: with a
// bucketing expression first (entries from 1) and without (entries from 0). Otherwise every
// call takes the general path.
class FractionalExpr final : public Expr {
 public:
  explicit FractionalExpr(std::vector<ExprPtr> args) : args_(std::move(args)) {
    if (args_.empty()) return;
    if (AllLiteral(args_, 1)) {
      planned_rest_ = true;
      plan_rest_ = PlanFractional(args_, 1);
    }
    if (AllLiteral(args_, 0)) {
      planned_all_ = true;
      plan_all_ = PlanFractional(args_, 0);
    }
  }

  Value Eval(const Scope& s) const override {
    if (!planned_rest_ && !planned_all_) return Fractional(s, args_);
    // A literal first argument (the usual entry list) needs no evaluation to be told apart
    // from a bucketing expression.
    Value first_value;
    const Json* first = args_[0]->AsLiteral();
    if (first == nullptr) {
      first_value = args_[0]->Eval(s);
      first = &first_value.get();
    }
    uint32_t hash;
    const FractionalPlan* plan;
    if (first->is_string()) {
      if (!planned_rest_) return Fractional(s, args_);
      plan = &plan_rest_;
      hash = FractionalHash(first->get_ref<const std::string&>());
    } else {
      if (!planned_all_) return Fractional(s, args_);
      plan = &plan_all_;
      std::optional<uint32_t> h = DefaultBucketHash(s);
      if (!h) return Value();
      hash = *h;
    }
    if (!plan->valid || !plan->table.valid()) return Value();
    return Value::Ref(plan->variants[plan->table.Pick(hash)]);
  }

 private:
  std::vector<ExprPtr> args_;
  bool planned_rest_ = false;
  bool planned_all_ = false;
  FractionalPlan plan_rest_;
  FractionalPlan plan_all_;
};

// some/all/none/map/filter/reduce: the logic runs with each element as its data.
class IterExpr final : public Expr {
 public:
  IterExpr(Op op, ExprPtr array, ExprPtr logic, ExprPtr init)
      : op_(op), array_(std::move(array)), logic_(std::move(logic)), init_(std::move(init)) {}

  Value Eval(const Scope& s) const override {
    Value arr = array_->Eval(s);
    static const Json kEmpty = Json::array();
    const Json& items = arr.get().is_array() ? arr.get() : kEmpty;
    switch (op_) {
      case Op::kSome:
      case Op::kNone: {
        bool any = false;
        for (const Json& e : items) {
          if (Truthy(logic_->Eval(Inner(s, &e)).get())) {
            any = true;
            break;
          }
        }
        return Bool(op_ == Op::kSome ? any : !any);
      }
      case Op::kAll: {
        if (items.empty()) return Bool(false);
        for (const Json& e : items) {
          if (!Truthy(logic_->Eval(Inner(s, &e)).get())) return Bool(false);
        }
        return Bool(true);
      }
      case Op::kMap: {
        Json out = Json::array();
        for (const Json& e : items) out.push_back(logic_->Eval(Inner(s, &e)).Take());
        return Value(std::move(out));
      }
      case Op::kFilter: {
        Json out = Json::array();
        for (const Json& e : items) {
          if (Truthy(logic_->Eval(Inner(s, &e)).get())) out.push_back(e);
        }
        return Value(std::move(out));
      }
      case Op::kReduce: {
        Json acc = init_ ? init_->Eval(s).Take() : Json();
        for (const Json& e : items) {
          Json data = {{"current", e}, {"accumulator", std::move(acc)}};
          acc = logic_->Eval(Inner(s, &data)).Take();
        }
        return Value(std::move(acc));
      }
      default:
        return Value();
    }
  }

 private:
  static Scope Inner(const Scope& s, const Json* data) { return Scope{data, s.view, s.env, false}; }

  Op op_;
  ExprPtr array_;
  ExprPtr logic_;
  ExprPtr init_;
};

class Compiler {
 public:
  Compiler(const Json* evaluators, std::vector<const Json*>* literal_strings,
           std::vector<std::string>* problems)
      : evaluators_(evaluators), literal_strings_(literal_strings), problems_(problems) {}

  Result<ExprPtr> Compile(const Json& j, const std::string& path) {
    if (j.is_array()) {
      std::vector<ExprPtr> items;
      bool constant = true;
      const size_t noted = literal_strings_ ? literal_strings_->size() : 0;
      for (size_t i = 0; i < j.size(); ++i) {
        ASSIGN_OR_RETURN(ExprPtr e, Compile(j[i], path + "[" + std::to_string(i) + "]"));
        constant = constant && e->AsLiteral() != nullptr;
        items.push_back(std::move(e));
      }
      if (constant) {
        // The items' nodes are dropped for one literal of the whole array: forget their strings.
        if (literal_strings_) literal_strings_->resize(noted);
        return MakeLiteral(j);
      }
      return ExprPtr(std::make_unique<ArrayExpr>(std::move(items)));
    }
    if (!j.is_object() || j.size() != 1) return MakeLiteral(j);
    const std::string& name = j.begin().key();
    const Json& raw = j.begin().value();
    const std::string opath = path + "." + name;
    if (name == "$ref") return CompileRef(raw, opath);
    auto it = Ops().find(name);
    if (it == Ops().end()) {
      return Problem(path + ": unknown operator \"" + name + "\"", Fallback::kFail);
    }
    const OpInfo info = it->second;
    if (info.op == Op::kVar) return CompileVar(raw, opath);
    std::vector<const Json*> raw_args;
    if (raw.is_array()) {
      for (const Json& a : raw) raw_args.push_back(&a);
    } else {
      raw_args.push_back(&raw);
    }
    if (info.arity >= 0 && static_cast<int>(raw_args.size()) != info.arity) {
      // flagd's own operators answer null to a wrong argument list; its JsonLogic library
      // fails on the standard ones.
      const bool flagd_op =
          info.op == Op::kStartsWith || info.op == Op::kEndsWith || info.op == Op::kSemVer;
      return Problem(opath + ": takes " + std::to_string(info.arity) + " arguments, got " +
                         std::to_string(raw_args.size()),
                     flagd_op ? Fallback::kNull : Fallback::kFail);
    }
    if (info.op == Op::kReduce && (raw_args.size() < 2 || raw_args.size() > 3)) {
      return Problem(opath + ": takes 2 or 3 arguments, got " + std::to_string(raw_args.size()),
                     Fallback::kFail);
    }
    std::vector<ExprPtr> args;
    for (size_t i = 0; i < raw_args.size(); ++i) {
      ASSIGN_OR_RETURN(ExprPtr e, Compile(*raw_args[i], opath + "[" + std::to_string(i) + "]"));
      args.push_back(std::move(e));
    }
    switch (info.op) {
      case Op::kSome:
      case Op::kAll:
      case Op::kNone:
      case Op::kMap:
      case Op::kFilter:
      case Op::kReduce:
        return ExprPtr(std::make_unique<IterExpr>(info.op, std::move(args[0]), std::move(args[1]),
                                                  args.size() > 2 ? std::move(args[2]) : nullptr));
      case Op::kIf:
        return ExprPtr(std::make_unique<IfExpr>(std::move(args)));
      case Op::kAnd:
      case Op::kOr:
        return ExprPtr(std::make_unique<AndOrExpr>(info.op == Op::kAnd, std::move(args)));
      case Op::kIn:
        return ExprPtr(std::make_unique<InExpr>(std::move(args[0]), std::move(args[1])));
      case Op::kStartsWith:
      case Op::kEndsWith:
        return ExprPtr(std::make_unique<AffixExpr>(info.op == Op::kStartsWith, std::move(args[0]),
                                                   std::move(args[1])));
      case Op::kSemVer:
        return ExprPtr(std::make_unique<SemVerExpr>(std::move(args)));
      case Op::kFractional:
        return ExprPtr(std::make_unique<FractionalExpr>(std::move(args)));
      default:
        return ExprPtr(std::make_unique<OpExpr>(info.op, std::move(args)));
    }
  }

 private:
  enum class Fallback { kFail, kNull };

  // A problem in the rule: the error, or (when problems are collected) noted, with a node that
  // answers as flagd does in its place.
  Result<ExprPtr> Problem(std::string what, Fallback fallback) {
    if (problems_ == nullptr) return InvalidInput(std::move(what));
    problems_->push_back(std::move(what) +
                         (fallback == Fallback::kNull
                              ? " (flagd's operator answers null there)"
                              : " (flagd answers PARSE_ERROR when it is reached)"));
    if (fallback == Fallback::kNull) return ExprPtr(std::make_unique<Literal>(Json()));
    return ExprPtr(std::make_unique<FailExpr>());
  }

  ExprPtr MakeLiteral(const Json& j) {
    auto lit = std::make_unique<Literal>(j);
    if (literal_strings_ != nullptr) NoteStrings(*lit->AsLiteral());
    return lit;
  }

  void NoteStrings(const Json& j) {
    if (j.is_string()) {
      literal_strings_->push_back(&j);
    } else if (j.is_array() || j.is_object()) {
      for (const Json& e : j) NoteStrings(e);
    }
  }

  Result<ExprPtr> CompileRef(const Json& raw, const std::string& path) {
    // flagd replaces `{"$ref": name}` by the evaluator's text; one it cannot replace stays an
    // operator "$ref", which its JsonLogic library does not know.
    if (!raw.is_string())
      return Problem(path + ": must be the name of an evaluator", Fallback::kFail);
    const std::string& name = raw.get_ref<const std::string&>();
    if (evaluators_ == nullptr || !evaluators_->is_object() || !evaluators_->contains(name)) {
      return Problem(path + ": no evaluator \"" + name + "\" in $evaluators", Fallback::kFail);
    }
    if (active_refs_.count(name)) {
      return Problem(path + ": evaluator \"" + name + "\" refers to itself", Fallback::kFail);
    }
    active_refs_.insert(name);
    auto r = Compile((*evaluators_)[name], "$evaluators." + name);
    active_refs_.erase(name);
    return r;
  }

  Result<ExprPtr> CompileVar(const Json& raw, const std::string& path) {
    const Json* p = &raw;
    ExprPtr fallback;
    if (raw.is_array()) {
      if (raw.size() > 2)
        return Problem(path + ": takes a path and an optional default", Fallback::kFail);
      if (raw.empty())
        return ExprPtr(
            std::make_unique<VarExpr>(std::vector<std::string>{}, true, nullptr, nullptr));
      p = &raw[0];
      if (raw.size() == 2) {
        ASSIGN_OR_RETURN(fallback, Compile(raw[1], path + "[1]"));
      }
    }
    if (p->is_null() || (p->is_string() && p->get_ref<const std::string&>().empty())) {
      return ExprPtr(std::make_unique<VarExpr>(std::vector<std::string>{}, true, nullptr,
                                               std::move(fallback)));
    }
    if (p->is_string() || p->is_number()) {
      std::vector<std::string> split = SplitPath(ToJsString(*p));
      if (split.size() == 1 && !fallback && !StartsWithFlagd(split)) {
        return ExprPtr(std::make_unique<KeyVarExpr>(std::move(split[0])));
      }
      return ExprPtr(
          std::make_unique<VarExpr>(std::move(split), false, nullptr, std::move(fallback)));
    }
    ASSIGN_OR_RETURN(ExprPtr dynamic, Compile(*p, path + "[0]"));
    return ExprPtr(std::make_unique<VarExpr>(std::vector<std::string>{}, false, std::move(dynamic),
                                             std::move(fallback)));
  }

  const Json* evaluators_;
  std::vector<const Json*>* literal_strings_;  // may be null
  std::vector<std::string>* problems_;         // null: the first problem is the error
  std::set<std::string> active_refs_;
};

}  // namespace

Result<std::unique_ptr<Expr>> CompileLogic(const Json& logic, const Json* evaluators,
                                           std::string_view path,
                                           std::vector<const Json*>* literal_strings,
                                           std::vector<std::string>* problems) {
  Compiler c(evaluators, literal_strings, problems);
  return c.Compile(logic, std::string(path));
}

Value EvaluateLogic(const Expr& expr, const ContextView& context, const EvalEnv& env) {
  Scope s{&context.json(), &context, &env, true};
  return expr.Eval(s);
}

Value EvaluateLogic(const Expr& expr, const Json& context, const EvalEnv& env) {
  ContextView view(context);
  return EvaluateLogic(expr, view, env);
}

}  // namespace slipway::flags

// JsonLogic compiled to a tree of nodes, with flagd's custom operators.
//
// A flag's `targeting` rule is compiled once, when its definition changes (CompileLogic), into
// Expr nodes: the operators targeting rules use most (if, and/or, in, starts_with/ends_with,
// sem_ver, fractional, one-key var) get their own small node with literal operands prepared
// (a sem_ver version, an `in` list, fractional weights); the rest are resolved to an opcode.
// `var` paths are pre-split, literal arrays are folded into constants and `{"$ref": name}` is
// replaced by the named `$evaluators` rule.
// Evaluation then walks the nodes without looking at the rule's JSON again and returns values
// by reference where it can (context fields, constants), so a typical rule allocates nothing.
//
// Operators: if ?: == != === !== < <= > >= ! !! and or in var missing missing_some cat substr
// + - * / % min max merge some all none map filter reduce, and flagd's starts_with, ends_with,
// sem_ver and fractional. Semantics are those of JsonLogic's JavaScript implementation
// (js_value.h). An unknown operator, a `$ref` to a missing evaluator or a wrong number of
// arguments to a binary operator is a compile error; bad values at run time yield null, as
// flagd's SDKs do.
//
// flagd itself loads such a rule and only fails when it runs it, so a compile that is given a
// `problems` list records each problem there and still builds a rule that answers as flagd
// does: an unknown operator (a dangling `$ref` included) and a standard operator with the
// wrong number of arguments become a node that marks the evaluation failed (flagd's JsonLogic
// library raises an error there, answered PARSE_ERROR); flagd's own operators (starts_with,
// ends_with, sem_ver) with the wrong number of arguments yield null, as flagd's do.
//
// A compiled Expr is immutable: any number of threads may evaluate it at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "flags/context_view.h"
#include "flags/js_value.h"

namespace slipway::flags {

// What `$flagd.*` resolves to, fixed for one evaluation.
struct EvalEnv {
  const Json* flag_key = nullptr;  // a JSON string: the key of the flag being evaluated
  int64_t timestamp_s = 0;         // Unix seconds
  // Set to true when the rule reached a node flagd's JsonLogic library fails on (only rules
  // compiled with a problems list have such nodes); nullptr: not recorded.
  bool* failed = nullptr;
};

// A result: a reference to a value that outlives the evaluation (the context, a constant),
// or an owned value computed on the way. Most results are references, so the owned value is
// optional: creating and dropping a reference costs no JSON construction or destruction.
class Value {
 public:
  Value() = default;  // null
  explicit Value(Json own) : own_(std::move(own)) {}
  static Value Ref(const Json* j) {
    Value v;
    v.ref_ = j;
    return v;
  }
  const Json& get() const { return own_ ? *own_ : *ref_; }
  bool is_ref() const { return !own_; }
  // The referenced value, or nullptr for an owned one.
  const Json* ref() const { return own_ ? nullptr : ref_; }
  // Two returns, not `?:`: the conditional's type would be const Json, and the owned value
  // would be copied instead of moved.
  Json Take() && {
    if (own_) return std::move(*own_);
    return *ref_;
  }

 private:
  static const Json kNullJson;
  const Json* ref_ = &kNullJson;
  std::optional<Json> own_;
};

// The data a node sees: `data` is what `var` reads (the context, or the current element inside
// some/all/map/...); `view` is always the evaluation context (the root).
struct Scope {
  const Json* data;
  const ContextView* view;
  const EvalEnv* env;
  bool top;  // data == root: `$flagd` is visible
};

class Expr {
 public:
  virtual ~Expr() = default;
  virtual Value Eval(const Scope& s) const = 0;
  // The constant this node always yields, or nullptr.
  virtual const Json* AsLiteral() const { return nullptr; }
};

// Compiles `logic`. `evaluators` is the document's `$evaluators` object (or nullptr);
// `path` names the rule in error messages ("flags.new-ui.targeting"). When `literal_strings`
// is given, it receives the address of every string constant inside the compiled rule (living
// as long as the rule): a result that refers to one of them is a known constant, which lets a
// flag map it to its variant once instead of comparing names per evaluation.
// Without `problems` the first problem is the error. With it, every problem is appended there
// ("PATH: what") and the rule is still built (see above); an error is then never returned.
Result<std::unique_ptr<Expr>> CompileLogic(const Json& logic, const Json* evaluators,
                                           std::string_view path,
                                           std::vector<const Json*>* literal_strings = nullptr,
                                           std::vector<std::string>* problems = nullptr);

// Evaluates a compiled rule against an evaluation context (a JSON object). The view's context
// must outlive the returned Value, which may refer into it.
Value EvaluateLogic(const Expr& expr, const ContextView& context, const EvalEnv& env);
// The same over a fresh view (tests; callers evaluating many flags keep one view).
Value EvaluateLogic(const Expr& expr, const Json& context, const EvalEnv& env);

}  // namespace slipway::flags

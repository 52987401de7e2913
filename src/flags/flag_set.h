// FlagSet: a compiled, immutable set of flags in flagd's definition format, and their evaluation.
//
// The flagd document is {"flags": {KEY: {state, variants, defaultVariant, targeting, metadata}},
// "$evaluators": {NAME: rule}, "metadata": {...}} (flagd also reads "flags" as a list of
// definitions with a "key"). A document loads exactly when flagd loads it: what flagd refuses
// the whole file for is the error (not an object; flags, $evaluators, metadata, a definition,
// its variants or metadata of the wrong JSON type; a state or defaultVariant that is not a
// string; a defaultVariant naming no variant; an evaluator shorter than three characters).
// What flagd's schema forbids but flagd loads anyway (a state other than ENABLED|DISABLED,
// missing or mixed-type variants, a targeting rule with an unknown operator, a dangling `$ref`
// or a wrong argument count, non-primitive metadata, unknown keys) is a problem: the flag is
// kept, its problems are listed (Problems(), one line each, for a warning at load and
// `slipway flags check`), and it is answered as flagd answers it (json_logic.h). Targeting is
// compiled once. Evaluation follows flagd:
//   - a state other than "DISABLED" is enabled;
//   - DISABLED flag: reason DISABLED without a value (the caller's default, as in flagd);
//   - no targeting: STATIC with the default variant;
//   - targeting yields null: DEFAULT with the default variant;
//   - targeting yields a variant name (a bool or number as its string): TARGETING_MATCH;
//   - a name that is no variant, or a variant whose value is null: ERROR/GENERAL;
//   - a rule that reached what flagd's JsonLogic library fails on: ERROR/PARSE_ERROR;
//   - an unknown key: ERROR/FLAG_NOT_FOUND;
//   - null defaultVariant and nothing matched: DEFAULT without a value (the caller's default).
// Changing flags means building a new FlagSet and swapping a shared_ptr; a FlagSet is never
// modified once built, so any thread may evaluate it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "flags/context_view.h"
#include "flags/js_value.h"
#include "flags/json_logic.h"

namespace slipway::flags {

enum class Reason { kStatic, kTargetingMatch, kDefault, kDisabled, kError };
enum class ErrorCode {
  kNone,
  kFlagNotFound,
  kParseError,
  kTypeMismatch,
  kTargetingKeyMissing,
  kInvalidContext,
  kGeneral,
};
std::string_view ReasonName(Reason r);        // "STATIC", "TARGETING_MATCH", ...
std::string_view ErrorCodeName(ErrorCode c);  // "FLAG_NOT_FOUND", ...; "" for kNone

// One evaluation. Pointers refer into the FlagSet, valid while it is alive.
struct Evaluation {
  Reason reason = Reason::kError;
  ErrorCode error = ErrorCode::kNone;
  std::string error_message;
  const Json* value = nullptr;           // nullptr: no value, the caller's default applies
  const std::string* variant = nullptr;  // the chosen variant's name
  const Json* metadata = nullptr;        // flag metadata (set metadata merged under it)
  // The same, serialised once when the set was built (compact JSON, as Json::dump() writes it),
  // so answering over HTTP copies text instead of building and dumping JSON per request.
  const std::string* value_json = nullptr;     // *value; set whenever value is
  const std::string* variant_json = nullptr;   // *variant as a JSON string; set with variant
  const std::string* metadata_json = nullptr;  // *metadata; set whenever metadata is
};

class Flag {
 public:
  // Validates and compiles one flag definition; errors (what flagd refuses the file for) and
  // problems (what it loads anyway) read "flags.KEY.field: what".
  static Result<std::unique_ptr<Flag>> Compile(const std::string& key, const Json& definition,
                                               const Json& evaluators, const Json& set_metadata);

  const std::string& key() const { return key_; }
  bool enabled() const { return enabled_; }
  const Json& definition() const { return definition_; }  // as written (with $ref), for export
  const Json& variants() const { return variants_; }
  const std::optional<std::string>& default_variant() const { return default_variant_; }
  const Json& metadata() const { return metadata_; }
  bool has_targeting() const { return targeting_ != nullptr; }
  // What flagd's schema forbids in this flag although flagd loads it; empty for a valid flag.
  const std::vector<std::string>& problems() const { return problems_; }
  bool valid() const { return problems_.empty(); }

  Evaluation Evaluate(const Json& context, int64_t now_s) const;
  // The same over a context listed once (a bulk evaluation shares one view across flags). A
  // context that is not an object is evaluated as the empty object.
  Evaluation Evaluate(const ContextView& context, int64_t now_s) const;
  // The same as one entry of a bulk evaluation: as flagd's bulk answers it, a flag whose chosen
  // variant has another type than its default variant (possible only in an invalid flag) is
  // ERROR/GENERAL there, while a single evaluation answers the value.
  Evaluation EvaluateInBulk(const ContextView& context, int64_t now_s) const;

  // Last evaluation time (Unix ms), kept on the compiled flag so recording it costs one store
  // of an atomic; the flag service persists it now and then.
  void NoteEvaluated(int64_t wall_ms) const {
    evaluated_ms_.store(wall_ms, std::memory_order_relaxed);
  }
  int64_t evaluated_ms() const { return evaluated_ms_.load(std::memory_order_relaxed); }

 private:
  Flag() = default;
  // A variant with its serialised forms; variants_list_ is sorted by name.
  struct VariantEntry {
    const std::string* name;
    const Json* value;
    std::string name_json;
    std::string value_json;
  };
  // A disabled flag or one without targeting: DISABLED, STATIC or DEFAULT.
  Evaluation Untargeted() const;
  Evaluation WithEntry(const VariantEntry& v, Reason reason) const;
  Evaluation WithVariant(std::string_view name, Reason reason) const;
  // Builds literal_index_ from the string constants of the compiled targeting.
  void IndexLiteralVariants(const std::vector<const Json*>& literals);
  // The variant a string constant of the targeting names, or nullptr.
  const VariantEntry* LiteralVariant(const Json* result) const;
  Evaluation WithDefault(Reason reason) const;
  Evaluation NoValue(Reason reason) const;

  std::string key_;
  Json key_json_;  // the key as a JSON string, for $flagd.flagKey without allocation
  bool enabled_ = true;
  Json variants_;
  std::optional<std::string> default_variant_;
  // The default variant resolved once at compile time, so a static flag costs no lookup.
  const VariantEntry* default_entry_ = nullptr;
  std::vector<VariantEntry> variants_list_;
  std::unique_ptr<Expr> targeting_;
  // String constants inside targeting_ that name a variant, by address: open addressing, a
  // power-of-two table at most a quarter full (empty when there are none), indexed by the top
  // 64 - literal_shift_ bits of address * literal_mul_ (chosen so that constants rarely clash).
  std::vector<std::pair<const Json*, const VariantEntry*>> literal_index_;
  uint64_t literal_mul_ = 1;
  int literal_shift_ = 64;
  Json definition_;
  Json metadata_;
  std::string metadata_json_;
  std::vector<std::string> problems_;
  mutable std::atomic<int64_t> evaluated_ms_{0};
};

class FlagSet {
 public:
  // Parses a whole flagd document. `source` prefixes errors (a file name, "x-slipway.flags").
  static Result<std::shared_ptr<const FlagSet>> Parse(const Json& doc, std::string_view source);
  // Builds from flag definitions plus the document-level `$evaluators` and `metadata`.
  static Result<std::shared_ptr<const FlagSet>> Build(const std::map<std::string, Json>& flags,
                                                      const Json& evaluators, const Json& metadata);

  // A problem flagd loads anyway: of one flag, or of the document (flag "" for an evaluator,
  // the set's metadata or an unknown top-level key).
  struct Problem {
    std::string flag;
    std::string message;  // flags.KEY.targeting.if[0]: unknown operator "x" (...)
  };
  // Every problem: the document's first, then each flag's in key order.
  std::vector<Problem> Problems() const;

  const Flag* Find(std::string_view key) const;
  // Slots visited to find the worst-placed flag (1 = every flag in its home slot).
  size_t LongestProbeForTest() const;
  const std::map<std::string, std::unique_ptr<Flag>, std::less<>>& flags() const { return flags_; }
  const Json& evaluators() const { return evaluators_; }
  const Json& metadata() const { return metadata_; }

  // FLAG_NOT_FOUND for an unknown key.
  Evaluation Evaluate(std::string_view key, const Json& context, int64_t now_s) const;

  // The set as a flagd document (import/export round-trips).
  Json ToDocument() const;

 private:
  void BuildIndex();

  std::map<std::string, std::unique_ptr<Flag>, std::less<>> flags_;
  // Open-addressing hash index over flags_ (views of its keys; a power-of-two table at most half
  // full, linear probing) for the per-evaluation lookup: one short hash, usually one compare.
  std::vector<std::pair<std::string_view, const Flag*>> index_;
  size_t index_mask_ = 0;  // index_.size() - 1
  Json evaluators_ = Json::object();
  Json metadata_ = Json::object();
  std::string metadata_json_ = "{}";
  std::vector<Problem> problems_;  // the document's own
};

// Whether flagd would load the document (problems it loads anyway are not errors).
Status ValidateDocument(const Json& doc, std::string_view source);

}  // namespace slipway::flags

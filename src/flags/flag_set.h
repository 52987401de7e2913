// FlagSet: a compiled, immutable set of flags in flagd's definition format, and their evaluation.
//
// The flagd document is {"flags": {KEY: {state, variants, defaultVariant, targeting, metadata}},
// "$evaluators": {NAME: rule}, "metadata": {...}}. Parsing validates every flag against flagd's
// schema (state ENABLED|DISABLED, non-empty variants of one type, defaultVariant naming a
// variant or null, targeting a JsonLogic rule, primitive metadata) and compiles its targeting
// once (json_logic.h). Evaluation follows flagd:
//   - DISABLED flag: reason DISABLED without a value (the caller's default, as in flagd);
//   - no targeting: STATIC with the default variant;
//   - targeting yields null: DEFAULT with the default variant;
//   - targeting yields a variant name (a bool or number is turned into its string): TARGETING_MATCH;
//   - a name that is no variant: ERROR/GENERAL; an unknown key: ERROR/FLAG_NOT_FOUND;
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
  const Json* value = nullptr;            // nullptr: no value, the caller's default applies
  const std::string* variant = nullptr;   // the chosen variant's name
  const Json* metadata = nullptr;         // flag metadata (set metadata merged under it)
  // The same, serialised once when the set was built (compact JSON, as Json::dump() writes it),
  // so answering over HTTP copies text instead of building and dumping JSON per request.
  const std::string* value_json = nullptr;     // *value; set whenever value is
  const std::string* variant_json = nullptr;   // *variant as a JSON string; set with variant
  const std::string* metadata_json = nullptr;  // *metadata; set whenever metadata is
};

class Flag {
 public:
  // Validates and compiles one flag definition; errors read "flags.KEY.field: what".
  static Result<std::unique_ptr<Flag>> Compile(const std::string& key, const Json& definition,
                                               const Json& evaluators, const Json& set_metadata);

  const std::string& key() const { return key_; }
  bool enabled() const { return enabled_; }
  const Json& definition() const { return definition_; }  // as written (with $ref), for export
  const Json& variants() const { return variants_; }
  const std::optional<std::string>& default_variant() const { return default_variant_; }
  const Json& metadata() const { return metadata_; }
  bool has_targeting() const { return targeting_ != nullptr; }

  Evaluation Evaluate(const Json& context, int64_t now_s) const;
  // The same over a context listed once (a bulk evaluation shares one view across flags). A
  // context that is not an object is evaluated as the empty object.
  Evaluation Evaluate(const ContextView& context, int64_t now_s) const;

  // Last evaluation time (Unix ms), kept on the compiled flag so recording it costs one store
  // of an atomic; the flag service persists it now and then.
  void NoteEvaluated(int64_t wall_ms) const { evaluated_ms_.store(wall_ms, std::memory_order_relaxed); }
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
  mutable std::atomic<int64_t> evaluated_ms_{0};
};

class FlagSet {
 public:
  // Parses a whole flagd document. `source` prefixes errors (a file name, "x-slipway.flags").
  static Result<std::shared_ptr<const FlagSet>> Parse(const Json& doc, std::string_view source);
  // Builds from flag definitions plus the document-level `$evaluators` and `metadata`.
  static Result<std::shared_ptr<const FlagSet>> Build(const std::map<std::string, Json>& flags,
                                                      const Json& evaluators, const Json& metadata);

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
};

// Validates a flagd document's shape without keeping it (for `slipway flags import --check`).
Status ValidateDocument(const Json& doc, std::string_view source);

}  // namespace slipway::flags

#include "flags/flag_set.h"

#include <algorithm>
#include <cstring>

#include "flags/short_key.h"

namespace slipway::flags {
namespace {

const Json kEmptyObject = Json::object();

std::string_view VariantKind(const Json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_object()) return "object";
  return "";
}

std::string Describe(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

Status CheckMetadata(const Json& m, const std::string& path) {
  if (!m.is_object()) return InvalidInput(path + ": must be an object, got " + Describe(m));
  for (auto it = m.begin(); it != m.end(); ++it) {
    const Json& v = it.value();
    if (!(v.is_string() || v.is_number() || v.is_boolean())) {
      return InvalidInput(path + "." + it.key() + ": must be a string, number or boolean, got " +
                          Describe(v));
    }
  }
  return Status::OK();
}

constexpr size_t kMaxDepth = 512;

// Nesting depth of a JSON value, without recursion (the value may be hostile).
size_t Depth(const Json& root) {
  size_t deepest = 0;
  std::vector<std::pair<const Json*, size_t>> todo{{&root, 1}};
  while (!todo.empty()) {
    auto [j, d] = todo.back();
    todo.pop_back();
    deepest = std::max(deepest, d);
    if (d > kMaxDepth) break;
    if (j->is_object() || j->is_array()) {
      for (const Json& e : *j) todo.emplace_back(&e, d + 1);
    }
  }
  return deepest;
}

// Compact JSON as Json::dump() writes it; invalid UTF-8 is replaced rather than thrown on.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kStatic:
      return "STATIC";
    case Reason::kTargetingMatch:
      return "TARGETING_MATCH";
    case Reason::kDefault:
      return "DEFAULT";
    case Reason::kDisabled:
      return "DISABLED";
    case Reason::kError:
      return "ERROR";
  }
  return "ERROR";
}

std::string_view ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kNone:
      return "";
    case ErrorCode::kFlagNotFound:
      return "FLAG_NOT_FOUND";
    case ErrorCode::kParseError:
      return "PARSE_ERROR";
    case ErrorCode::kTypeMismatch:
      return "TYPE_MISMATCH";
    case ErrorCode::kTargetingKeyMissing:
      return "TARGETING_KEY_MISSING";
    case ErrorCode::kInvalidContext:
      return "INVALID_CONTEXT";
    case ErrorCode::kGeneral:
      return "GENERAL";
  }
  return "GENERAL";
}

Result<std::unique_ptr<Flag>> Flag::Compile(const std::string& key, const Json& def,
                                            const Json& evaluators, const Json& set_metadata) {
  // Two kinds of findings. What flagd refuses the whole file for (a field of the wrong JSON
  // type, a defaultVariant that names no variant) is the error. What flagd loads although its
  // schema does not allow it is noted in problems_ and answered as flagd answers it.
  const std::string path = "flags." + key;
  std::unique_ptr<Flag> f(new Flag());
  auto problem = [&f](std::string what) { f->problems_.push_back(std::move(what)); };
  if (key.empty()) problem("flags: a flag key must not be empty");
  f->key_ = key;
  f->key_json_ = key;
  f->definition_ = def;
  if (!def.is_object()) return InvalidInput(path + ": must be an object, got " + Describe(def));
  for (auto it = def.begin(); it != def.end(); ++it) {
    static const char* kKnown[] = {"state", "variants", "defaultVariant", "targeting", "metadata"};
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) {
      problem(path + ": unknown key \"" + it.key() +
              "\" (expected state, variants, defaultVariant, targeting, metadata; ignored)");
    }
  }

  auto state = def.find("state");
  if (state == def.end() || state->is_null()) {
    problem(path + ": state is missing (ENABLED or DISABLED; flagd treats it as ENABLED)");
  } else if (!state->is_string()) {
    return InvalidInput(path + ".state: must be ENABLED or DISABLED, got " + Describe(*state));
  } else if (*state == "DISABLED") {
    f->enabled_ = false;
  } else if (*state != "ENABLED") {
    problem(path + ".state: must be ENABLED or DISABLED, got " + Describe(*state) +
            " (flagd treats it as ENABLED)");
  }

  auto variants = def.find("variants");
  if (variants == def.end() || variants->is_null()) {
    problem(path + ": variants are missing (flagd answers with the code default)");
    f->variants_ = Json::object();
  } else if (!variants->is_object()) {
    return InvalidInput(path + ".variants: must be an object of name: value, got " +
                        Describe(*variants));
  } else {
    if (variants->empty())
      problem(path + ".variants: is empty (flagd answers with the code default)");
    f->variants_ = *variants;
  }
  std::string_view kind;
  for (auto it = f->variants_.begin(); it != f->variants_.end(); ++it) {
    std::string_view k = VariantKind(it.value());
    if (k.empty()) {
      problem(path + ".variants." + it.key() +
              ": must be a boolean, string, number or object, got " + Describe(it.value()) +
              (it.value().is_null() ? " (flagd answers GENERAL when it is chosen)" : ""));
    } else if (kind.empty()) {
      kind = k;
    } else if (k != kind) {
      problem(path + ".variants." + it.key() + ": is a " + std::string(k) +
              " but the other variants are " + std::string(kind) +
              "s (all variants of a flag have one type)");
    }
  }
  for (auto it = f->variants_.begin(); it != f->variants_.end(); ++it) {
    // Json objects iterate in key order, so the list is sorted for WithVariant's search.
    f->variants_list_.push_back(
        VariantEntry{&it.key(), &it.value(), Dump(Json(it.key())), Dump(it.value())});
  }

  auto dv = def.find("defaultVariant");
  if (dv != def.end() && !dv->is_null()) {
    if (!dv->is_string()) {
      return InvalidInput(path + ".defaultVariant: must be a variant name or null, got " +
                          Describe(*dv));
    }
    const std::string& name = dv->get_ref<const std::string&>();
    // flagd reads "" as no default variant.
    if (!name.empty()) {
      if (!f->variants_.contains(name)) {
        return InvalidInput(path + ".defaultVariant: \"" + name + "\" is not one of the variants");
      }
      f->default_variant_ = name;
      for (const VariantEntry& v : f->variants_list_) {
        if (*v.name == name) f->default_entry_ = &v;
      }
    }
  }

  Json metadata = set_metadata.is_object() ? set_metadata : Json::object();
  if (auto m = def.find("metadata"); m != def.end() && !m->is_null()) {
    if (!m->is_object()) {
      return InvalidInput(path + ".metadata: must be an object, got " + Describe(*m));
    }
    if (Status st = CheckMetadata(*m, path + ".metadata"); !st.ok()) {
      problem(st.message() + " (flagd passes it on as it is)");
    }
    for (auto it = m->begin(); it != m->end(); ++it) {
      if (!it.value().is_null()) metadata[it.key()] = it.value();  // flagd skips null values
    }
  }
  f->metadata_ = std::move(metadata);
  f->metadata_json_ = Dump(f->metadata_);

  if (auto t = def.find("targeting"); t != def.end() && !t->is_null()) {
    if (!t->is_object()) {
      problem(path + ".targeting: must be a JsonLogic object, got " + Describe(*t) +
              " (flagd reads the value itself as the variant name)");
    }
    if (!t->is_object() || !t->empty()) {
      std::vector<const Json*> literals;
      std::vector<std::string> problems;
      auto compiled = CompileLogic(*t, &evaluators, path + ".targeting", &literals, &problems);
      if (!compiled.ok()) return compiled.status();  // not returned with a problems list
      f->targeting_ = std::move(*compiled);
      for (std::string& p : problems) problem(std::move(p));
      f->IndexLiteralVariants(literals);
    }
  }
  return f;
}

namespace {
// Multiplicative hashing: the top bits of the product, so neighbouring addresses (the elements
// of one literal array are 16 bytes apart) land in different slots.
size_t PointerSlot(const void* p, uint64_t mul, int shift) {
  return static_cast<size_t>((reinterpret_cast<uintptr_t>(p) * mul) >> shift);
}
}  // namespace

void Flag::IndexLiteralVariants(const std::vector<const Json*>& literals) {
  std::vector<std::pair<const Json*, const VariantEntry*>> found;
  for (const Json* lit : literals) {
    const std::string& name = lit->get_ref<const std::string&>();
    for (const VariantEntry& v : variants_list_) {
      if (*v.name == name) found.emplace_back(lit, &v);
    }
  }
  if (found.empty()) return;
  // At most a quarter full. The addresses are known now, so multipliers are tried until every
  // constant sits in its home slot (a lookup is then one compare, with no branch to mispredict
  // on which variant won); if none is found in a few tries, linear probing still answers.
  int bits = 2;
  while ((size_t{1} << bits) < 4 * found.size()) ++bits;
  const size_t mask = (size_t{1} << bits) - 1;
  literal_shift_ = 64 - bits;
  uint64_t mul = 0x9e3779b97f4a7c15ull;
  for (int attempt = 0; attempt < 64; ++attempt, mul += 0x2545f4914f6cdd1dull * 2) {
    std::vector<bool> used(mask + 1);
    bool clash = false;
    for (const auto& [lit, v] : found) {
      size_t i = PointerSlot(lit, mul | 1, literal_shift_);
      if (used[i]) {
        clash = true;
        break;
      }
      used[i] = true;
    }
    if (!clash) break;
  }
  literal_mul_ = mul | 1;
  literal_index_.assign(mask + 1, {nullptr, nullptr});
  for (const auto& [lit, v] : found) {
    size_t i = PointerSlot(lit, literal_mul_, literal_shift_);
    while (literal_index_[i].first != nullptr) i = (i + 1) & mask;
    literal_index_[i] = {lit, v};
  }
}

const Flag::VariantEntry* Flag::LiteralVariant(const Json* result) const {
  if (literal_index_.empty()) return nullptr;
  const size_t mask = literal_index_.size() - 1;
  for (size_t i = PointerSlot(result, literal_mul_, literal_shift_);; i = (i + 1) & mask) {
    const auto& [lit, v] = literal_index_[i];
    if (lit == result) return v;
    if (lit == nullptr) return nullptr;  // never full: an empty slot ends the probe
  }
}

Evaluation Flag::WithEntry(const VariantEntry& v, Reason reason) const {
  if (v.value->is_null()) {
    // flagd's evaluator takes a null variant for a type mismatch, which OFREP answers GENERAL.
    Evaluation e = NoValue(Reason::kError);
    e.error = ErrorCode::kGeneral;
    e.error_message = "Variant '" + *v.name + "' of flag '" + key_ + "' has a null value";
    return e;
  }
  Evaluation e = NoValue(reason);
  e.value = v.value;
  e.variant = v.name;
  e.value_json = &v.value_json;
  e.variant_json = &v.name_json;
  return e;
}

Evaluation Flag::WithVariant(std::string_view name, Reason reason) const {
  auto it = variants_list_.end();
  if (variants_list_.size() <= 8) {
    // Few variants (the usual case): lengths first, so most candidates cost no string compare.
    for (auto v = variants_list_.begin(); v != variants_list_.end(); ++v) {
      if (SameKey(*v->name, name)) {
        it = v;
        break;
      }
    }
  } else {
    it = std::lower_bound(
        variants_list_.begin(), variants_list_.end(), name,
        [](const VariantEntry& v, std::string_view n) { return std::string_view(*v.name) < n; });
    if (it != variants_list_.end() && *it->name != name) it = variants_list_.end();
  }
  if (it == variants_list_.end()) {
    Evaluation e = NoValue(Reason::kError);
    e.error = ErrorCode::kGeneral;
    e.error_message =
        "Variant '" + std::string(name) + "' not found in flag with key '" + key_ + "'";
    return e;
  }
  return WithEntry(*it, reason);
}

Evaluation Flag::WithDefault(Reason reason) const {
  if (default_entry_ == nullptr) return NoValue(reason);
  return WithEntry(*default_entry_, reason);
}

Evaluation Flag::NoValue(Reason reason) const {
  Evaluation e;
  e.reason = reason;
  e.metadata = &metadata_;
  e.metadata_json = &metadata_json_;
  return e;
}

Evaluation Flag::Untargeted() const {
  // Disabled: no value, as flagd does: the caller's code default applies, so turning a flag
  // off hands control back to the application whatever the default variant says.
  if (!enabled_) return NoValue(Reason::kDisabled);
  return WithDefault(default_entry_ ? Reason::kStatic : Reason::kDefault);
}

Evaluation Flag::Evaluate(const Json& context, int64_t now_s) const {
  if (!enabled_ || !targeting_) return Untargeted();  // no view for the common static flag
  return Evaluate(ContextView(context), now_s);
}

Evaluation Flag::EvaluateInBulk(const ContextView& context, int64_t now_s) const {
  Evaluation e = Evaluate(context, now_s);
  // flagd's bulk evaluation reads each flag as the type of its default variant, so a variant of
  // another type (only an invalid flag has one) is a type mismatch there, answered GENERAL.
  if (!valid() && e.value != nullptr && default_entry_ != nullptr &&
      !VariantKind(*default_entry_->value).empty() &&
      VariantKind(*e.value) != VariantKind(*default_entry_->value)) {
    Evaluation m = NoValue(Reason::kError);
    m.error = ErrorCode::kGeneral;
    m.error_message = "error processing the flag for evaluation";
    return m;
  }
  return e;
}

Evaluation Flag::Evaluate(const ContextView& context, int64_t now_s) const {
  if (!enabled_ || !targeting_) return Untargeted();
  bool failed = false;
  EvalEnv env{&key_json_, now_s, &failed};
  Value result = context.is_object() ? EvaluateLogic(*targeting_, context, env)
                                     : EvaluateLogic(*targeting_, ContextView(kEmptyObject), env);
  if (failed) {
    // The rule reached what flagd's JsonLogic library fails on (see json_logic.h).
    Evaluation e = NoValue(Reason::kError);
    e.error = ErrorCode::kParseError;
    e.error_message = "error parsing the flag '" + key_ + "'";
    return e;
  }
  // A rule's answer is usually one of its own string constants: mapped to a variant at compile
  // time, so no name is compared here.
  if (const Json* lit = result.ref()) {
    if (const VariantEntry* v = LiteralVariant(lit)) return WithEntry(*v, Reason::kTargetingMatch);
  }
  const Json& r = result.get();
  if (r.is_null()) return WithDefault(Reason::kDefault);
  if (r.is_string()) return WithVariant(r.get_ref<const std::string&>(), Reason::kTargetingMatch);
  return WithVariant(ToJsString(r), Reason::kTargetingMatch);
}

Result<std::shared_ptr<const FlagSet>> FlagSet::Build(const std::map<std::string, Json>& flags,
                                                      const Json& evaluators,
                                                      const Json& metadata) {
  auto set = std::make_shared<FlagSet>();
  if (!evaluators.is_null()) {
    if (!evaluators.is_object()) {
      return InvalidInput("$evaluators: must be an object of name: rule, got " +
                          Describe(evaluators));
    }
    set->evaluators_ = evaluators;
  }
  if (!metadata.is_null()) {
    if (!metadata.is_object()) {
      return InvalidInput("metadata: must be an object, got " + Describe(metadata));
    }
    if (Status st = CheckMetadata(metadata, "metadata"); !st.ok()) {
      set->problems_.push_back({"", st.message() + " (flagd passes it on as it is)"});
    }
    set->metadata_ = metadata;
  }
  // Every evaluator is checked on its own, even when no flag uses it yet.
  for (auto it = set->evaluators_.begin(); it != set->evaluators_.end(); ++it) {
    const std::string path = "$evaluators." + it.key();
    // flagd refuses a file whose evaluator is shorter than three characters of JSON ({}, 1).
    if (Dump(it.value()).size() < 3) {
      return InvalidInput(path + ": must be a JsonLogic rule, got " + Describe(it.value()));
    }
    std::vector<std::string> problems;
    auto compiled = CompileLogic(it.value(), &set->evaluators_, path, nullptr, &problems);
    if (!compiled.ok()) return compiled.status();  // not returned with a problems list
    for (std::string& p : problems) set->problems_.push_back({"", std::move(p)});
  }
  for (const auto& [key, def] : flags) {
    ASSIGN_OR_RETURN(auto flag, Flag::Compile(key, def, set->evaluators_, set->metadata_));
    set->flags_.emplace(key, std::move(flag));
  }
  set->metadata_json_ = Dump(set->metadata_);
  set->BuildIndex();
  return std::shared_ptr<const FlagSet>(std::move(set));
}

Result<std::shared_ptr<const FlagSet>> FlagSet::Parse(const Json& doc, std::string_view source) {
  auto prefix = [&](const Status& st) { return source.empty() ? st : st.WithContext(source); };
  if (!doc.is_object()) return prefix(InvalidInput("a flag document must be a JSON object"));
  if (Depth(doc) > kMaxDepth) {
    // Compiling and evaluating a rule recurse once per level: bounded here, far above any
    // real rule.
    return prefix(InvalidInput("the document is nested deeper than " + std::to_string(kMaxDepth) +
                               " levels"));
  }
  std::vector<Problem> top;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "flags" && it.key() != "$evaluators" && it.key() != "metadata" &&
        it.key() != "$schema") {
      top.push_back({"", "unknown key \"" + it.key() +
                             "\" (expected flags, $evaluators, metadata, $schema; ignored)"});
    }
  }
  auto flags = doc.find("flags");
  if (flags == doc.end()) {
    return prefix(InvalidInput("flags: missing (expected an object of KEY: definition)"));
  }
  std::map<std::string, Json> defs;
  if (flags->is_object()) {
    for (auto it = flags->begin(); it != flags->end(); ++it) {
      // flagd reads a null definition as one with no field set (enabled, no variants): kept as
      // {} so that it is stored and answered like that one.
      defs.emplace(it.key(), it.value().is_null() ? Json::object() : it.value());
    }
  } else if (flags->is_array()) {
    // flagd also reads the flags as a list of definitions that carry their key.
    for (size_t i = 0; i < flags->size(); ++i) {
      const Json& def = (*flags)[i];
      const std::string path = "flags[" + std::to_string(i) + "]";
      if (!def.is_object()) {
        return prefix(InvalidInput(path + ": must be an object, got " + Describe(def)));
      }
      auto key = def.find("key");
      if (key == def.end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
        return prefix(InvalidInput(path + ".key: must be the flag's key (a non-empty string)"));
      }
      Json rest = def;
      rest.erase("key");
      const std::string& k = key->get_ref<const std::string&>();
      if (defs.count(k)) {
        top.push_back(
            {"", path + ": the key \"" + k + "\" is listed twice (the later one is used)"});
      }
      defs[k] = std::move(rest);
    }
  } else if (!flags->is_null()) {
    return prefix(
        InvalidInput("flags: must be an object of KEY: definition, got " + Describe(*flags)));
  }
  auto r = Build(defs, doc.value("$evaluators", Json()), doc.value("metadata", Json()));
  if (!r.ok()) return prefix(r.status());
  if (!top.empty()) {
    auto* set = const_cast<FlagSet*>(r->get());  // not shared with anyone yet
    set->problems_.insert(set->problems_.begin(), top.begin(), top.end());
  }
  return r;
}

std::vector<FlagSet::Problem> FlagSet::Problems() const {
  std::vector<Problem> out = problems_;
  for (const auto& [key, f] : flags_) {
    for (const std::string& p : f->problems()) out.push_back({key, p});
  }
  return out;
}

Status ValidateDocument(const Json& doc, std::string_view source) {
  auto r = FlagSet::Parse(doc, source);
  return r.ok() ? Status::OK() : r.status();
}

void FlagSet::BuildIndex() {
  size_t size = 8;
  while (size < 2 * flags_.size()) size *= 2;
  index_.assign(size, {std::string_view(), nullptr});
  index_mask_ = size - 1;
  for (const auto& [key, flag] : flags_) {
    size_t i = KeyHash(key) & (size - 1);
    while (index_[i].second != nullptr) i = (i + 1) & (size - 1);
    index_[i] = {key, flag.get()};
  }
}

size_t FlagSet::LongestProbeForTest() const {
  size_t longest = 0;
  for (const auto& [key, flag] : flags_) {
    size_t probes = 1;
    for (size_t i = KeyHash(key) & (index_.size() - 1); index_[i].second != flag.get();
         i = (i + 1) & (index_.size() - 1)) {
      ++probes;
    }
    longest = std::max(longest, probes);
  }
  return longest;
}

const Flag* FlagSet::Find(std::string_view key) const {
  if (index_.empty()) return nullptr;
  const size_t mask = index_mask_;  // kept, not derived from the 24-byte entries' count
  for (size_t i = KeyHash(key) & mask;; i = (i + 1) & mask) {
    const auto& [k, flag] = index_[i];
    if (flag == nullptr) return nullptr;  // the table is at most half full: an empty slot ends it
    if (SameKey(k, key)) return flag;
  }
}

Evaluation FlagSet::Evaluate(std::string_view key, const Json& context, int64_t now_s) const {
  const Flag* f = Find(key);
  if (f == nullptr) {
    Evaluation e;
    e.reason = Reason::kError;
    e.error = ErrorCode::kFlagNotFound;
    e.error_message = "flag '" + std::string(key) + "' not found";
    e.metadata = &metadata_;
    e.metadata_json = &metadata_json_;
    return e;
  }
  return f->Evaluate(context, now_s);
}

Json FlagSet::ToDocument() const {
  Json doc = Json::object();
  Json flags = Json::object();
  for (const auto& [key, f] : flags_) flags[key] = f->definition();
  doc["flags"] = std::move(flags);
  if (!evaluators_.empty()) doc["$evaluators"] = evaluators_;
  if (!metadata_.empty()) doc["metadata"] = metadata_;
  return doc;
}

}  // namespace slipway::flags

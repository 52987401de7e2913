#include "flags/flag_set.h"

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

}  // namespace

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kStatic: return "STATIC";
    case Reason::kTargetingMatch: return "TARGETING_MATCH";
    case Reason::kDefault: return "DEFAULT";
    case Reason::kDisabled: return "DISABLED";
    case Reason::kError: return "ERROR";
  }
  return "ERROR";
}

std::string_view ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kNone: return "";
    case ErrorCode::kFlagNotFound: return "FLAG_NOT_FOUND";
    case ErrorCode::kParseError: return "PARSE_ERROR";
    case ErrorCode::kTypeMismatch: return "TYPE_MISMATCH";
    case ErrorCode::kTargetingKeyMissing: return "TARGETING_KEY_MISSING";
    case ErrorCode::kInvalidContext: return "INVALID_CONTEXT";
    case ErrorCode::kGeneral: return "GENERAL";
  }
  return "GENERAL";
}

Result<std::unique_ptr<Flag>> Flag::Compile(const std::string& key, const Json& def,
                                            const Json& evaluators, const Json& set_metadata) {
  const std::string path = "flags." + key;
  if (key.empty()) return InvalidInput("flags: a flag key must not be empty");
  if (!def.is_object()) return InvalidInput(path + ": must be an object, got " + Describe(def));
  for (auto it = def.begin(); it != def.end(); ++it) {
    static const char* kKnown[] = {"state", "variants", "defaultVariant", "targeting", "metadata"};
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) {
      return InvalidInput(path + ": unknown key \"" + it.key() +
                          "\" (expected state, variants, defaultVariant, targeting, metadata)");
    }
  }
  std::unique_ptr<Flag> f(new Flag());
  f->key_ = key;
  f->key_json_ = key;
  f->definition_ = def;

  auto state = def.find("state");
  if (state == def.end()) return InvalidInput(path + ": state is missing (ENABLED or DISABLED)");
  if (*state == "ENABLED") {
    f->enabled_ = true;
  } else if (*state == "DISABLED") {
    f->enabled_ = false;
  } else {
    return InvalidInput(path + ".state: must be ENABLED or DISABLED, got " + Describe(*state));
  }

  auto variants = def.find("variants");
  if (variants == def.end()) return InvalidInput(path + ": variants are missing");
  if (!variants->is_object() || variants->empty()) {
    return InvalidInput(path + ".variants: must be a non-empty object of name: value");
  }
  std::string_view kind;
  for (auto it = variants->begin(); it != variants->end(); ++it) {
    std::string_view k = VariantKind(it.value());
    if (it.key().empty()) return InvalidInput(path + ".variants: a variant name must not be empty");
    if (k.empty()) {
      return InvalidInput(path + ".variants." + it.key() +
                          ": must be a boolean, string, number or object, got " +
                          Describe(it.value()));
    }
    if (kind.empty()) {
      kind = k;
    } else if (k != kind) {
      return InvalidInput(path + ".variants." + it.key() + ": is a " + std::string(k) +
                          " but the other variants are " + std::string(kind) +
                          "s (all variants of a flag have one type)");
    }
  }
  f->variants_ = *variants;

  auto dv = def.find("defaultVariant");
  if (dv != def.end() && !dv->is_null()) {
    if (!dv->is_string()) {
      return InvalidInput(path + ".defaultVariant: must be a variant name or null, got " +
                          Describe(*dv));
    }
    if (!variants->contains(dv->get<std::string>())) {
      return InvalidInput(path + ".defaultVariant: \"" + dv->get<std::string>() +
                          "\" is not one of the variants");
    }
    f->default_variant_ = dv->get<std::string>();
    auto it = f->variants_.find(*f->default_variant_);
    f->default_value_ = &*it;
    f->default_name_ = &it.key();
  }

  Json metadata = set_metadata.is_object() ? set_metadata : Json::object();
  if (auto m = def.find("metadata"); m != def.end()) {
    RETURN_IF_ERROR(CheckMetadata(*m, path + ".metadata"));
    for (auto it = m->begin(); it != m->end(); ++it) metadata[it.key()] = it.value();
  }
  f->metadata_ = std::move(metadata);

  if (auto t = def.find("targeting"); t != def.end() && !t->is_null()) {
    if (!t->is_object()) {
      return InvalidInput(path + ".targeting: must be a JsonLogic object, got " + Describe(*t));
    }
    if (!t->empty()) {
      ASSIGN_OR_RETURN(f->targeting_, CompileLogic(*t, &evaluators, path + ".targeting"));
    }
  }
  return f;
}

Evaluation Flag::WithVariant(const std::string& name, Reason reason) const {
  Evaluation e;
  e.metadata = &metadata_;
  auto it = variants_.find(name);
  if (it == variants_.end()) {
    e.reason = Reason::kError;
    e.error = ErrorCode::kGeneral;
    e.error_message = "Variant '" + name + "' not found in flag with key '" + key_ + "'";
    return e;
  }
  e.reason = reason;
  e.value = &*it;
  e.variant = &it.key();
  return e;
}

Evaluation Flag::WithDefault(Reason reason) const {
  Evaluation e;
  e.metadata = &metadata_;
  e.reason = reason;
  e.value = default_value_;
  e.variant = default_name_;
  return e;
}

Evaluation Flag::Evaluate(const Json& context, int64_t now_s) const {
  if (!enabled_) {
    // No value, as flagd does: the caller's code default applies, so turning a flag off hands
    // control back to the application whatever the default variant says.
    Evaluation e;
    e.reason = Reason::kDisabled;
    e.metadata = &metadata_;
    return e;
  }
  if (!targeting_) {
    if (!default_variant_) {
      Evaluation e;
      e.reason = Reason::kDefault;
      e.metadata = &metadata_;
      return e;
    }
    return WithDefault(Reason::kStatic);
  }
  static const Json kEmpty = Json::object();
  EvalEnv env{&key_json_, now_s};
  Value result = EvaluateLogic(*targeting_, context.is_object() ? context : kEmpty, env);
  const Json& r = result.get();
  if (r.is_null()) {
    if (!default_variant_) {
      Evaluation e;
      e.reason = Reason::kDefault;
      e.metadata = &metadata_;
      return e;
    }
    return WithDefault(Reason::kDefault);
  }
  if (r.is_string()) return WithVariant(r.get_ref<const std::string&>(), Reason::kTargetingMatch);
  return WithVariant(ToJsString(r), Reason::kTargetingMatch);
}

Result<std::shared_ptr<const FlagSet>> FlagSet::Build(const std::map<std::string, Json>& flags,
                                                      const Json& evaluators,
                                                      const Json& metadata) {
  auto set = std::make_shared<FlagSet>();
  if (!evaluators.is_null()) {
    if (!evaluators.is_object()) return InvalidInput("$evaluators: must be an object");
    set->evaluators_ = evaluators;
  }
  if (!metadata.is_null()) {
    RETURN_IF_ERROR(CheckMetadata(metadata, "metadata"));
    set->metadata_ = metadata;
  }
  // Every evaluator must compile on its own, even when no flag uses it yet.
  for (auto it = set->evaluators_.begin(); it != set->evaluators_.end(); ++it) {
    auto compiled = CompileLogic(it.value(), &set->evaluators_, "$evaluators." + it.key());
    if (!compiled.ok()) return compiled.status();
  }
  for (const auto& [key, def] : flags) {
    ASSIGN_OR_RETURN(auto flag, Flag::Compile(key, def, set->evaluators_, set->metadata_));
    auto [it, inserted] = set->flags_.emplace(key, std::move(flag));
    if (inserted) set->index_.emplace(it->first, it->second.get());
  }
  return std::shared_ptr<const FlagSet>(std::move(set));
}

Result<std::shared_ptr<const FlagSet>> FlagSet::Parse(const Json& doc, std::string_view source) {
  auto prefix = [&](const Status& st) {
    return source.empty() ? st : st.WithContext(source);
  };
  if (!doc.is_object()) return prefix(InvalidInput("a flag document must be a JSON object"));
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "flags" && it.key() != "$evaluators" && it.key() != "metadata" &&
        it.key() != "$schema") {
      return prefix(InvalidInput("unknown key \"" + it.key() +
                                 "\" (expected flags, $evaluators, metadata, $schema)"));
    }
  }
  auto flags = doc.find("flags");
  if (flags == doc.end() || !flags->is_object()) {
    return prefix(InvalidInput("flags: must be an object of KEY: definition"));
  }
  std::map<std::string, Json> defs;
  for (auto it = flags->begin(); it != flags->end(); ++it) defs.emplace(it.key(), it.value());
  auto r = Build(defs, doc.value("$evaluators", Json()), doc.value("metadata", Json()));
  if (!r.ok()) return prefix(r.status());
  return r;
}

Status ValidateDocument(const Json& doc, std::string_view source) {
  auto r = FlagSet::Parse(doc, source);
  return r.ok() ? Status::OK() : r.status();
}

const Flag* FlagSet::Find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : it->second;
}

Evaluation FlagSet::Evaluate(std::string_view key, const Json& context, int64_t now_s) const {
  const Flag* f = Find(key);
  if (f == nullptr) {
    Evaluation e;
    e.reason = Reason::kError;
    e.error = ErrorCode::kFlagNotFound;
    e.error_message = "flag '" + std::string(key) + "' not found";
    e.metadata = &metadata_;
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

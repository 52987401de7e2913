// ContextView: an evaluation context as the compiled rules read it.
//
// A context is a JSON object, which the JSON library keeps as a balanced tree. The view finds
// top-level members with an inline key compare (KeyProbe) instead of std::string's memcmp call
// per tree level, and remembers `targetingKey`, which every `fractional` of a bulk request
// reads. (Listing the members into a flat array was measured too: no faster for contexts of a
// few members, so the tree is searched directly.)
//
// The view refers into the context: the JSON value must outlive it and not change. Lookups fill
// the view's cache, so a view belongs to the one thread evaluating with it; it may serve every
// evaluation of one request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "flags/js_value.h"

namespace slipway::flags {

// The member `key` of a JSON object, or nullptr; searched with KeyProbe's inline compares.
// Every lookup of a context attribute goes through here.
const Json* FindMember(const Json& object, std::string_view key);

class ContextView {
 public:
  // A context that is not an object (JsonLogic allows any data) has no members.
  explicit ContextView(const Json& context);
  ContextView(const ContextView&) = delete;
  ContextView& operator=(const ContextView&) = delete;

  const Json& json() const { return *json_; }
  bool is_object() const { return json_->is_object(); }
  // The top-level member named `key`, or nullptr (always for a non-object context).
  const Json* Find(std::string_view key) const;
  // The `targetingKey` member, or nullptr.
  const Json* targeting_key() const;

 private:
  const Json* json_;
  mutable bool tk_known_ = false;  // targeting_key_ is the answer
  mutable const Json* targeting_key_ = nullptr;
};

}  // namespace slipway::flags

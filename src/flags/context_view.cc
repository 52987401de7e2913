#include "flags/context_view.h"

#include "flags/short_key.h"

namespace slipway::flags {
namespace {
constexpr std::string_view kTargetingKey = "targetingKey";
}  // namespace

const Json* FindMember(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto& obj = object.get_ref<const Json::object_t&>();
  auto it = obj.find(KeyProbe{key});
  return it == obj.end() ? nullptr : &it->second;
}

ContextView::ContextView(const Json& context) : json_(&context) {}

const Json* ContextView::Find(std::string_view key) const { return FindMember(*json_, key); }

const Json* ContextView::targeting_key() const {
  if (!tk_known_) {
    tk_known_ = true;
    targeting_key_ = Find(kTargetingKey);
  }
  return targeting_key_;
}

}  // namespace slipway::flags

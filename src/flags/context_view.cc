#include "flags/context_view.h"

#include "flags/short_key.h"

namespace slipway::flags {
namespace {
constexpr std::string_view kTargetingKey = "targetingKey";
}  // namespace

ContextView::ContextView(const Json& context) : json_(&context) {}

const Json* ContextView::Find(std::string_view key) const {
  if (!json_->is_object()) return nullptr;
  const auto& obj = json_->get_ref<const Json::object_t&>();
  auto it = obj.find(KeyProbe{key});
  return it == obj.end() ? nullptr : &it->second;
}

const Json* ContextView::targeting_key() const {
  if (!tk_known_) {
    tk_known_ = true;
    targeting_key_ = Find(kTargetingKey);
  }
  return targeting_key_;
}

}  // namespace slipway::flags

// NameTable: a closed set's names, the one table both parsing (config files, CLI flags) and
// rendering (`slipway config`, exports, messages) read, so a name is written exactly once.
//
//   inline constexpr auto kOrderNames = MakeNameTable<UpdateOrder>(
//       {{UpdateOrder::kStopFirst, "stop-first"}, {UpdateOrder::kStartFirst, "start-first"}});
//   kOrderNames.Name(UpdateOrder::kStartFirst)  → "start-first"
//   kOrderNames.Parse("stop-first")             → UpdateOrder::kStopFirst (nullopt if unknown)
//   kOrderNames.List()                          → "stop-first or start-first"
//
// Tables are constexpr constants; any thread may read them.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::config {

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

template <typename E, std::size_t N>
struct NameTable {
  std::array<EnumName<E>, N> entries;

  // "" for a value the table does not list (a table is meant to list every value).
  constexpr std::string_view Name(E v) const {
    for (const EnumName<E>& e : entries) {
      if (e.value == v) return e.name;
    }
    return {};
  }
  constexpr std::optional<E> Parse(std::string_view name) const {
    for (const EnumName<E>& e : entries) {
      if (e.name == name) return e.value;
    }
    return std::nullopt;
  }
  // The names in table order, skipping `except` (e.g. a value one context does not allow).
  std::vector<std::string> Names(std::optional<E> except = std::nullopt) const {
    std::vector<std::string> out;
    for (const EnumName<E>& e : entries) {
      if (!except || e.value != *except) out.emplace_back(e.name);
    }
    return out;
  }
  // "a, b or c", for messages and help texts.
  std::string List(std::optional<E> except = std::nullopt) const {
    const std::vector<std::string> names = Names(except);
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
      out += names[i];
    }
    return out;
  }
};

template <typename E, std::size_t N>
constexpr NameTable<E, N> MakeNameTable(const EnumName<E> (&entries)[N]) {
  NameTable<E, N> t{};
  for (std::size_t i = 0; i < N; ++i) t.entries[i] = entries[i];
  return t;
}

}  // namespace slipway::config

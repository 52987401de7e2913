#include "export/yaml_emit.h"

#include <cctype>
#include <cstdio>

namespace slipway::exporter {
namespace {

using nlohmann::json;

bool IsReservedWord(std::string_view s) {
  // Words some YAML reader takes for a bool or null (YAML 1.1 is the wider set).
  static const char* kWords[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : kWords) {
    if (lower == w) return true;
  }
  return false;
}

std::string Scalar(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return v.dump();
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      return IsPlainSafe(s) ? s : DoubleQuoted(s);
    }
    default:
      return v.dump();
  }
}

bool IsEmptyContainer(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }

void Emit(const json& v, int indent, std::string* out);

// Writes the value of a "key:" or "- " entry whose line is already started.
void EmitInline(const json& v, int indent, bool in_seq, std::string* out) {
  if (v.is_object() && !v.empty()) {
    if (in_seq) {
      // "- key: value" with the remaining keys aligned under the first.
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out->append(indent, ' ');
        first = false;
        out->append(IsPlainSafe(it.key()) ? it.key() : DoubleQuoted(it.key()));
        out->push_back(':');
        const json& c = *it;
        if ((c.is_object() || c.is_array()) && !c.empty()) {
          out->push_back('\n');
          Emit(c, c.is_array() ? indent : indent + 2, out);
        } else {
          out->push_back(' ');
          out->append(IsEmptyContainer(c) ? (c.is_object() ? "{}" : "[]") : Scalar(c));
          out->push_back('\n');
        }
      }
      return;
    }
    out->push_back('\n');
    Emit(v, indent, out);
    return;
  }
  if (v.is_array() && !v.empty()) {
    out->push_back('\n');
    Emit(v, indent, out);
    return;
  }
  if (IsEmptyContainer(v)) {
    out->append(v.is_object() ? " {}\n" : " []\n");
    return;
  }
  if (in_seq) {
    out->append(Scalar(v));
  } else {
    out->push_back(' ');
    out->append(Scalar(v));
  }
  out->push_back('\n');
}

// Writes a non-empty mapping or sequence as block lines at `indent`.
void Emit(const json& v, int indent, std::string* out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out->append(indent, ' ');
      out->append(IsPlainSafe(it.key()) ? it.key() : DoubleQuoted(it.key()));
      out->push_back(':');
      const json& c = *it;
      // Sequences under a key sit at the key's own indent (kubectl's style).
      EmitInline(c, c.is_array() ? indent : indent + 2, false, out);
    }
  } else if (v.is_array()) {
    for (const json& item : v) {
      out->append(indent, ' ');
      if (item.is_array() && !item.empty()) {
        out->append("-\n");
        Emit(item, indent + 2, out);
      } else if (IsEmptyContainer(item)) {
        out->append(item.is_object() ? "- {}\n" : "- []\n");
      } else {
        out->append("- ");
        EmitInline(item, indent + 2, true, out);
      }
    }
  }
}

}  // namespace

bool IsPlainSafe(std::string_view s) {
  if (s.empty() || IsReservedWord(s)) return false;
  auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  // A letter, '_' or '/' first: never a number, date, sexagesimal or indicator.
  if (!alpha(s[0]) && s[0] != '_' && s[0] != '/') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (alnum(c) || c == '_' || c == '.' || c == '/' || c == '-' || c == '@' || c == '+') continue;
    // ':' is plain only inside a word ("image:tag"), never before a space or at the end.
    if (c == ':' && i + 1 < s.size() && s[i + 1] != ' ') continue;
    return false;
  }
  return true;
}

std::string DoubleQuoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += '"';
  return out;
}

std::string EmitYaml(const json& doc) {
  std::string out;
  if ((doc.is_object() || doc.is_array()) && !doc.empty()) {
    Emit(doc, 0, &out);
  } else if (IsEmptyContainer(doc)) {
    out = doc.is_object() ? "{}\n" : "[]\n";
  } else {
    out = Scalar(doc) + "\n";
  }
  return out;
}

}  // namespace slipway::exporter

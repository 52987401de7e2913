#include "config/merge.h"

#include <algorithm>

namespace slipway::config {
namespace {

namespace fs = std::filesystem;

std::string ResolvePath(const std::string& p, const fs::path& base_dir) {
  if (p.empty()) return p;
  if (p.find("://") != std::string::npos || p.rfind("git@", 0) == 0) return p;  // remote
  fs::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  std::string out = (base_dir / path).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// `KEY=VALUE` / `KEY` lists (environment, labels) become mappings.
Status ListToMap(Node* n, const std::string& path, bool null_without_value) {
  if (n->IsNull()) {
    *n = Node::Map(n->loc);
    return Status::OK();
  }
  if (n->IsMap()) {
    for (Node& c : n->children) {
      if (c.IsSeq() || c.IsMap()) {
        return NodeError(c, JoinPath(path, c.key), "is " + c.Describe(),
                         "a string, number or boolean value");
      }
    }
    return Status::OK();
  }
  if (!n->IsSeq()) {
    return NodeError(*n, path, "is " + n->Describe(), "a mapping or a list of KEY=VALUE strings");
  }
  Node map = Node::Map(n->loc);
  map.key = n->key;
  map.key_loc = n->key_loc;
  for (size_t i = 0; i < n->children.size(); ++i) {
    Node& item = n->children[i];
    if (!item.IsScalar()) {
      return NodeError(item, IndexPath(path, i), "is " + item.Describe(), "a KEY=VALUE string");
    }
    size_t eq = item.scalar.find('=');
    std::string key = item.scalar.substr(0, eq);
    if (key.empty()) {
      return NodeError(item, IndexPath(path, i), Quote(item.scalar) + " has no key",
                       "a KEY=VALUE string");
    }
    Node value;
    if (eq == std::string::npos) {
      value.kind = null_without_value ? Node::Kind::kNull : Node::Kind::kScalar;
    } else {
      value = Node::Scalar(item.scalar.substr(eq + 1));
      value.quoted = true;
      for (const Substitution& s : item.substitutions) {
        if (s.begin > eq) value.substitutions.push_back({s.begin - eq - 1, s.end - eq - 1, s.var});
      }
    }
    value.loc = item.loc;
    value.key_loc = item.loc;  // errors point at the list item
    map.Set(key, std::move(value));
  }
  *n = std::move(map);
  return Status::OK();
}

Status NormalizeDependsOn(Node* n, const std::string& path) {
  if (n->IsMap()) {
    for (Node& c : n->children) {
      if (c.IsNull()) {
        c.children.clear();
        c.kind = Node::Kind::kMap;
      } else if (!c.IsMap()) {
        return NodeError(c, JoinPath(path, c.key), "is " + c.Describe(),
                         "a mapping with condition, required, restart");
      }
    }
    return Status::OK();
  }
  if (!n->IsSeq()) {
    return NodeError(*n, path, "is " + n->Describe(), "a list of service names or a mapping");
  }
  Node map = Node::Map(n->loc);
  map.key = n->key;
  map.key_loc = n->key_loc;
  for (size_t i = 0; i < n->children.size(); ++i) {
    const Node& item = n->children[i];
    if (!item.IsScalar()) {
      return NodeError(item, IndexPath(path, i), "is " + item.Describe(), "a service name");
    }
    Node dep = Node::Map(item.loc);
    dep.key_loc = item.loc;
    map.Set(item.scalar, std::move(dep));
  }
  *n = std::move(map);
  return Status::OK();
}

std::string SecretMergeKey(const Node& s) {
  if (s.IsScalar()) return s.scalar;
  if (const Node* t = s.Find("target"); t && t->IsScalar()) return t->scalar;
  if (const Node* src = s.Find("source"); src && src->IsScalar()) return src->scalar;
  return "";
}

std::string EnvFileMergeKey(const Node& s) {
  if (s.IsScalar()) return s.scalar;
  if (const Node* p = s.Find("path"); p && p->IsScalar()) return p->scalar;
  return "";
}

bool SameScalar(const Node& a, const Node& b) {
  return a.IsScalar() && b.IsScalar() && a.scalar == b.scalar;
}

// Appends `over`'s items to `base`, replacing items with the same key.
template <typename KeyFn>
void MergeListByKey(Node* base, const Node& over, KeyFn key) {
  for (const Node& item : over.children) {
    const std::string k = key(item);
    auto it = std::find_if(base->children.begin(), base->children.end(),
                           [&](const Node& b) { return !k.empty() && key(b) == k; });
    if (it != base->children.end()) {
      *it = item;
    } else {
      base->children.push_back(item);
    }
  }
}

void MergeNode(Node* base, const Node& over, const std::string& rel);

void MergeMap(Node* base, const Node& over, const std::string& rel) {
  for (const Node& c : over.children) {
    if (c.tag == "!reset") {
      base->Erase(c.key);
      continue;
    }
    Node* existing = base->Find(c.key);
    if (existing == nullptr || c.tag == "!override") {
      Node copy = c;
      StripMergeTags(&copy);
      base->Set(c.key, std::move(copy));
      continue;
    }
    MergeNode(existing, c, JoinPath(rel, c.key));
  }
}

void MergeNode(Node* base, const Node& over, const std::string& rel) {
  if (base->IsMap() && over.IsMap()) {
    MergeMap(base, over, rel);
    return;
  }
  if (base->IsSeq() && over.IsSeq()) {
    if (rel == "command" || rel == "entrypoint" || rel == "healthcheck.test" ||
        rel == "x-slipway.command") {
      // Replaced below.
    } else if (rel == "ports") {
      MergeListByKey(base, over, PortMergeKey);
      return;
    } else if (rel == "secrets") {
      MergeListByKey(base, over, SecretMergeKey);
      return;
    } else if (rel == "env_file") {
      MergeListByKey(base, over, EnvFileMergeKey);
      return;
    } else {
      for (const Node& item : over.children) {
        bool dup = std::any_of(base->children.begin(), base->children.end(),
                               [&](const Node& b) { return SameScalar(b, item); });
        if (!dup) base->children.push_back(item);
      }
      return;
    }
  }
  // Scalars, type changes and replaced lists: the later value wins, keeping
  // its own key location.
  std::string key = base->key;
  *base = over;
  base->key = std::move(key);
  StripMergeTags(base);
}

}  // namespace

std::string PortMergeKey(const Node& port) {
  if (port.IsScalar()) {
    std::string s = port.scalar;
    std::string proto = "tcp";
    if (size_t slash = s.find('/'); slash != std::string::npos) {
      proto = s.substr(slash + 1);
      s = s.substr(0, slash);
    }
    std::string target = s;
    std::string published;
    if (size_t c = s.rfind(':'); c != std::string::npos) {
      target = s.substr(c + 1);
      std::string rest = s.substr(0, c);
      size_t c2 = rest.rfind(':');
      published = c2 == std::string::npos ? rest : rest.substr(c2 + 1);
    }
    return published + ":" + target + "/" + proto;
  }
  auto field = [&](const char* k, const char* dflt) {
    const Node* f = port.Find(k);
    return f && f->IsScalar() ? f->scalar : std::string(dflt);
  };
  return field("published", "") + ":" + field("target", "") + "/" + field("protocol", "tcp");
}

Status NormalizeService(Node* svc, const std::string& path, const fs::path& base_dir) {
  if (svc->IsNull()) {
    std::string key = svc->key;
    SourceLoc key_loc = svc->key_loc;
    *svc = Node::Map(svc->loc);
    svc->key = key;
    svc->key_loc = key_loc;
  }
  if (!svc->IsMap()) {
    return NodeError(*svc, path, "is " + svc->Describe(), "a mapping of service settings");
  }
  if (Node* env = svc->Find("environment")) {
    RETURN_IF_ERROR(ListToMap(env, JoinPath(path, "environment"), /*null_without_value=*/true));
  }
  if (Node* labels = svc->Find("labels")) {
    RETURN_IF_ERROR(ListToMap(labels, JoinPath(path, "labels"), /*null_without_value=*/false));
  }
  if (Node* deps = svc->Find("depends_on")) {
    RETURN_IF_ERROR(NormalizeDependsOn(deps, JoinPath(path, "depends_on")));
  }
  if (Node* build = svc->Find("build")) {
    if (build->IsScalar()) {
      Node m = Node::Map(build->loc);
      m.key_loc = build->key_loc;
      Node ctx = *build;
      ctx.key_loc = build->key_loc;
      m.Set("context", std::move(ctx));
      m.key = build->key;
      *build = std::move(m);
    }
    if (build->IsMap()) {
      if (Node* ctx = build->Find("context"); ctx && ctx->IsScalar()) {
        ctx->scalar = ResolvePath(ctx->scalar, base_dir);
      } else if (ctx == nullptr) {
        Node c = Node::Scalar(base_dir.string(), build->loc);
        build->Set("context", std::move(c));
      }
    }
  }
  if (Node* ef = svc->Find("env_file")) {
    if (ef->IsScalar()) {
      Node seq = Node::Seq(ef->loc);
      seq.key = ef->key;
      seq.key_loc = ef->key_loc;
      Node item = *ef;
      item.key.clear();
      item.key_loc = {};
      seq.children.push_back(std::move(item));
      *ef = std::move(seq);
    }
    if (ef->IsSeq()) {
      for (Node& item : ef->children) {
        if (item.IsScalar()) {
          item.scalar = ResolvePath(item.scalar, base_dir);
        } else if (Node* p = item.Find("path"); p && p->IsScalar()) {
          p->scalar = ResolvePath(p->scalar, base_dir);
        }
      }
    }
  }
  if (Node* ext = svc->Find("extends")) {
    if (ext->IsScalar()) {
      Node m = Node::Map(ext->loc);
      m.key = ext->key;
      m.key_loc = ext->key_loc;
      Node s = *ext;
      s.key_loc = ext->key_loc;
      m.Set("service", std::move(s));
      *ext = std::move(m);
    }
    if (ext->IsMap()) {
      if (Node* f = ext->Find("file"); f && f->IsScalar()) {
        f->scalar = ResolvePath(f->scalar, base_dir);
      }
    }
  }
  if (Node* wd = svc->Find("working_dir"); wd && wd->IsScalar()) {
    wd->scalar = ResolvePath(wd->scalar, base_dir);
  }
  return Status::OK();
}

Status NormalizeDocument(Node* root, const fs::path& base_dir) {
  if (Node* services = root->Find("services")) {
    if (services->IsNull()) {
      services->kind = Node::Kind::kMap;
    } else if (!services->IsMap()) {
      return NodeError(*services, "services", "is " + services->Describe(),
                       "a mapping of service names to settings");
    }
    for (Node& svc : services->children) {
      RETURN_IF_ERROR(NormalizeService(&svc, JoinPath("services", svc.key), base_dir));
    }
  }
  if (Node* secrets = root->Find("secrets"); secrets && secrets->IsMap()) {
    for (Node& s : secrets->children) {
      if (Node* f = s.Find("file"); f && f->IsScalar()) {
        f->scalar = ResolvePath(f->scalar, base_dir);
      }
    }
  }
  return Status::OK();
}

void MergeService(Node* base, const Node& over) { MergeMap(base, over, ""); }

void MergeDocument(Node* base, const Node& over) {
  for (const Node& c : over.children) {
    if (c.key == "services" && c.IsMap()) {
      Node* services = base->Find("services");
      if (services == nullptr || !services->IsMap()) {
        Node copy = c;
        StripMergeTags(&copy);
        base->Set("services", std::move(copy));
        continue;
      }
      for (const Node& svc : c.children) {
        Node* existing = services->Find(svc.key);
        if (svc.tag == "!reset") {
          services->Erase(svc.key);
        } else if (existing == nullptr || svc.tag == "!override") {
          Node copy = svc;
          StripMergeTags(&copy);
          services->Set(svc.key, std::move(copy));
        } else {
          MergeService(existing, svc);
        }
      }
      continue;
    }
    Node single = Node::Map(over.loc);
    single.children.push_back(c);
    MergeMap(base, single, "");
  }
}

void StripMergeTags(Node* n) {
  if (n->tag == "!reset") {
    n->kind = Node::Kind::kNull;
    n->children.clear();
  }
  n->tag.clear();
  for (Node& c : n->children) StripMergeTags(&c);
}

}  // namespace slipway::config

#include "config/merge.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

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

// Key -> position over one mapping's children, so that merging or building a mapping of n
// entries costs O(n) instead of a linear Find per entry. Erase leaves a hole that Compact()
// closes, keeping the order of the remaining entries.
class MapIndex {
 public:
  explicit MapIndex(Node* map) : map_(map), erased_(map->children.size(), false) {
    pos_.reserve(map->children.size());
    for (size_t i = 0; i < map->children.size(); ++i) pos_.emplace(map->children[i].key, i);
  }

  Node* Find(const std::string& k) {
    auto it = pos_.find(k);
    return it == pos_.end() ? nullptr : &map_->children[it->second];
  }

  // As Node::Set: replaces the entry in place (keeping its key location when `value` has
  // none) or appends it.
  void Set(const std::string& k, Node value) {
    value.key = k;
    auto [it, added] = pos_.emplace(k, map_->children.size());
    if (added) {
      map_->children.push_back(std::move(value));
      erased_.push_back(false);
      return;
    }
    Node& c = map_->children[it->second];
    if (value.key_loc.line == 0) value.key_loc = c.key_loc;
    c = std::move(value);
  }

  void Erase(const std::string& k) {
    auto it = pos_.find(k);
    if (it == pos_.end()) return;
    erased_[it->second] = true;
    any_erased_ = true;
    pos_.erase(it);
  }

  // Drops erased entries; the index is not used afterwards.
  void Compact() {
    if (!any_erased_) return;
    std::vector<Node>& c = map_->children;
    size_t kept = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (erased_[i]) continue;
      if (kept != i) c[kept] = std::move(c[i]);
      ++kept;
    }
    c.resize(kept, Node());
  }

 private:
  Node* map_;
  std::unordered_map<std::string, size_t> pos_;
  std::vector<bool> erased_;  // by position, until Compact()
  bool any_erased_ = false;
};

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
  MapIndex index(&map);
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
    index.Set(key, std::move(value));
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
  MapIndex index(&map);
  for (size_t i = 0; i < n->children.size(); ++i) {
    const Node& item = n->children[i];
    if (!item.IsScalar()) {
      return NodeError(item, IndexPath(path, i), "is " + item.Describe(), "a service name");
    }
    Node dep = Node::Map(item.loc);
    dep.key_loc = item.loc;
    index.Set(item.scalar, std::move(dep));
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

// Appends `over`'s items to `base`, replacing the first item with the same key (an empty
// key matches nothing).
template <typename KeyFn>
void MergeListByKey(Node* base, const Node& over, KeyFn key) {
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < base->children.size(); ++i) {
    std::string k = key(base->children[i]);
    if (!k.empty()) first.emplace(std::move(k), i);
  }
  for (const Node& item : over.children) {
    std::string k = key(item);
    if (!k.empty()) {
      auto [it, added] = first.emplace(std::move(k), base->children.size());
      if (!added) {
        base->children[it->second] = item;
        continue;
      }
    }
    base->children.push_back(item);
  }
}

// Appends `over`'s items to `base`, except scalars `base` already has.
void AppendDistinct(Node* base, const Node& over) {
  std::unordered_set<std::string> scalars;
  for (const Node& b : base->children) {
    if (b.IsScalar()) scalars.insert(b.scalar);
  }
  for (const Node& item : over.children) {
    if (item.IsScalar() && !scalars.insert(item.scalar).second) continue;
    base->children.push_back(item);
  }
}

void MergeNode(Node* base, const Node& over, const std::string& rel, int depth);

// Merges `over`'s entries onto the mapping `base`. `rel` is the key path from the service
// (or document) down to `base`; it is tracked two levels deep, as far as the list rules of
// MergeNode look, so long keys deep down cost nothing per entry.
void MergeMap(Node* base, const Node& over, const std::string& rel, int depth) {
  MapIndex index(base);
  for (const Node& c : over.children) {
    if (c.tag == "!reset") {
      index.Erase(c.key);
      continue;
    }
    Node* existing = index.Find(c.key);
    if (existing == nullptr || c.tag == "!override") {
      Node copy = c;
      StripMergeTags(&copy);
      index.Set(c.key, std::move(copy));
      continue;
    }
    MergeNode(existing, c, depth < 2 ? JoinPath(rel, c.key) : std::string(), depth + 1);
  }
  index.Compact();
}

void MergeNode(Node* base, const Node& over, const std::string& rel, int depth) {
  if (base->IsMap() && over.IsMap()) {
    MergeMap(base, over, rel, depth);
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
      AppendDistinct(base, over);
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

void MergeService(Node* base, const Node& over) { MergeMap(base, over, "", 0); }

void MergeDocument(Node* base, const Node& over) {
  MapIndex top(base);
  for (const Node& c : over.children) {
    Node* existing = top.Find(c.key);
    if (c.key == "services" && c.IsMap() && existing != nullptr && existing->IsMap()) {
      MapIndex services(existing);
      for (const Node& svc : c.children) {
        Node* old = services.Find(svc.key);
        if (svc.tag == "!reset") {
          services.Erase(svc.key);
        } else if (old == nullptr || svc.tag == "!override") {
          Node copy = svc;
          StripMergeTags(&copy);
          services.Set(svc.key, std::move(copy));
        } else {
          MergeService(old, svc);
        }
      }
      services.Compact();
      continue;
    }
    if (c.key == "services" && c.IsMap()) {
      Node copy = c;
      StripMergeTags(&copy);
      top.Set("services", std::move(copy));
      continue;
    }
    // Any other top-level key merges as a mapping entry would.
    if (c.tag == "!reset") {
      top.Erase(c.key);
    } else if (existing == nullptr || c.tag == "!override") {
      Node copy = c;
      StripMergeTags(&copy);
      top.Set(c.key, std::move(copy));
    } else {
      MergeNode(existing, c, c.key, 1);
    }
  }
  top.Compact();
}

namespace {

void TakeTags(Node* n, MergeTags* tags, bool in_list) {
  if (n->IsMap()) {
    std::vector<Node>& c = n->children;
    size_t kept = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      Node& child = c[i];
      if (child.tag == "!reset" || child.tag == "!override") {
        if (!in_list) {
          std::unique_ptr<MergeTags>& t = tags->below[child.key];
          if (!t) t = std::make_unique<MergeTags>();
          t->here = true;
        }
        if (child.tag == "!reset") continue;
        child.tag.clear();
        StripMergeTags(&child);  // compose-go reads no directive below an override
      } else if (child.IsMap() || child.IsSeq()) {
        MergeTags sub;
        TakeTags(&child, &sub, in_list);
        if (!sub.below.empty())
          tags->below[child.key] = std::make_unique<MergeTags>(std::move(sub));
      }
      if (kept != i) c[kept] = std::move(child);
      ++kept;
    }
    c.resize(kept, Node());
    return;
  }
  if (n->IsSeq()) {
    std::vector<Node>& c = n->children;
    size_t kept = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      Node& item = c[i];
      if (item.tag == "!reset") continue;
      if (item.tag == "!override") {
        item.tag.clear();
        StripMergeTags(&item);
      } else {
        MergeTags ignored;
        TakeTags(&item, &ignored, /*in_list=*/true);
      }
      if (kept != i) c[kept] = std::move(item);
      ++kept;
    }
    c.resize(kept, Node());
  }
}

}  // namespace

const MergeTags* MergeTags::Find(const std::string& key) const {
  auto it = below.find(key);
  return it == below.end() ? nullptr : it->second.get();
}

MergeTags TakeMergeTags(Node* doc) {
  MergeTags tags;
  if (doc->tag == "!reset" || doc->tag == "!override") doc->tag.clear();
  TakeTags(doc, &tags, /*in_list=*/false);
  return tags;
}

void ApplyMergeTags(Node* base, const MergeTags& tags) {
  if (!base->IsMap() || tags.below.empty()) return;
  std::vector<Node>& c = base->children;
  size_t kept = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const MergeTags* t = tags.Find(c[i].key);
    if (t != nullptr && t->here) continue;
    if (t != nullptr) ApplyMergeTags(&c[i], *t);
    if (kept != i) c[kept] = std::move(c[i]);
    ++kept;
  }
  c.resize(kept, Node());
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

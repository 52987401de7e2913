#include "config/loader.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <new>
#include <set>
#include <unordered_map>

#include "config/acme_settings.h"
#include "config/alerts_settings.h"
#include "config/compose_names.h"
#include "config/dotenv.h"
#include "config/environment.h"
#include "config/input_file.h"
#include "config/interpolate.h"
#include "config/merge.h"
#include "config/node.h"
#include "config/service_parser.h"
#include "config/values.h"
#include "config/volumes_settings.h"

extern char** environ;

namespace slipway::config {

bool ValidProjectName(const std::string& n) {
  if (n.empty() || !(std::islower(static_cast<unsigned char>(n[0])) ||
                     std::isdigit(static_cast<unsigned char>(n[0])))) {
    return false;
  }
  for (char c : n) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

namespace {

namespace fs = std::filesystem;

constexpr const char* kNameExpected = kProjectNameExpected.data();

bool ValidServiceName(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string Joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool IsWildcardIp(const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; }

class Loader {
 public:
  explicit Loader(const LoadOptions& o) : opts_(o) {}

  Result<Project> Run() {
    std::error_code ec;
    working_dir_ = opts_.working_dir.empty() ? fs::current_path(ec) : opts_.working_dir;
    if (working_dir_.is_relative()) working_dir_ = fs::current_path(ec) / working_dir_;
    working_dir_ = working_dir_.lexically_normal();
    RETURN_IF_ERROR(FindFiles());
    project_dir_ = files_.front().parent_path();
    RETURN_IF_ERROR(LoadEnv());

    Node merged = Node::Map();
    for (size_t i = 0; i < files_.size(); ++i) {
      ASSIGN_OR_RETURN(Node doc, LoadDocument(files_[i], project_dir_));
      RETURN_IF_ERROR(ResolveAllExtends(&doc, files_[i]));
      if (i == 0) {
        merged = std::move(doc);
      } else {
        // What this file tags `!reset` or `!override` goes from the files before it.
        ApplyMergeTags(&merged, merge_tags_[files_[i].string()]);
        MergeDocument(&merged, doc);
      }
    }
    return Build(std::move(merged));
  }

 private:
  Status FindFiles() {
    ASSIGN_OR_RETURN(selection_, SelectProjectFiles(opts_, working_dir_, [](const fs::path& p) {
                       std::error_code ec;
                       return fs::exists(p, ec);
                     }));
    for (size_t i = 0; i < opts_.files.size(); ++i) {
      labels_[selection_.compose[i].string()] = opts_.files[i].string();
    }
    files_ = selection_.compose;
    return Status::OK();
  }

  std::string Display(const fs::path& abs) const {
    auto it = labels_.find(abs.string());
    if (it != labels_.end()) return it->second;
    fs::path rel = abs.lexically_relative(working_dir_);
    return rel.empty() ? abs.string() : rel.string();
  }

  Status LoadEnv() {
    // As compose: the env files share one variable set, in order, so a line sees the lines
    // before it in its own file and in earlier files; the process environment comes first.
    std::map<std::string, std::string> dotenv;
    Lookup lookup = [&](const std::string& k) -> std::optional<std::string> {
      if (auto it = opts_.environ.find(k); it != opts_.environ.end()) return it->second;
      return std::nullopt;
    };
    std::vector<std::pair<fs::path, std::string>> files;
    std::error_code ec;
    for (size_t i = 0; i < selection_.env_files.size(); ++i) {
      const fs::path& abs = selection_.env_files[i];
      if (i < selection_.named_env_files) {
        const fs::path& f = opts_.env_files[i];
        if (!fs::exists(abs, ec)) {
          return InvalidInput("--env-file: " + Quote(f.string()) +
                              " not found (expected an existing file)");
        }
        files.emplace_back(abs, f.string());
      } else {
        files.emplace_back(abs, Display(abs));
      }
    }
    for (const auto& [abs, label] : files) {
      Status read = ReadDotenvFileInto(abs, label, lookup, &dotenv);
      if (!read.ok()) {
        if (read.code() == StatusCode::kInvalidInput) return read;
        return InvalidInput(read.message());
      }
    }
    env_ = dotenv;
    for (const auto& [k, v] : opts_.environ) env_[k] = v;
    return Status::OK();
  }

  Lookup EnvLookup() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  Result<Node> LoadDocument(const fs::path& abs, const fs::path& base_dir) {
    const std::string label = Display(abs);
    Result<std::string> text = ReadInputFile(abs, label);
    if (!text.ok()) {
      return InvalidInput(text.status().code() == StatusCode::kNotFound
                              ? label + ": file not found (expected a compose file)"
                              : text.status().message());
    }
    ASSIGN_OR_RETURN(Node root, ParseYaml(*text, label));
    if (!root.IsMap()) {
      return ErrorAt(root.loc, "", "the document is " + root.Describe(),
                     "a mapping with services:");
    }
    // Taken before normalizing, which rewrites some values (a depends_on list becomes a
    // mapping) and would lose their tags.
    merge_tags_[abs.string()] = TakeMergeTags(&root);
    RETURN_IF_ERROR(InterpolateTree(&root, "", EnvLookup(), &warnings_));
    RETURN_IF_ERROR(NormalizeDocument(&root, base_dir));
    return root;
  }

  Status ResolveAllExtends(Node* doc, const fs::path& file) {
    Node* services = doc->Find("services");
    if (services == nullptr) return Status::OK();
    for (Node& svc : services->children) {
      std::vector<std::pair<fs::path, std::string>> chain = {{file, svc.key}};
      RETURN_IF_ERROR(ResolveExtends(&svc, svc.key, doc, file, &chain));
    }
    service_index_.erase(doc);  // `doc` moves on; its address may be reused
    return Status::OK();
  }

  // The service named `name` in `doc` (one index per document: a lookup per extends).
  Node* FindService(Node* doc, const std::string& name) {
    auto [it, added] = service_index_.try_emplace(doc);
    if (added) {
      if (Node* services = doc->Find("services"); services && services->IsMap()) {
        for (Node& s : services->children) it->second.emplace(s.key, &s);
      }
    }
    auto found = it->second.find(name);
    return found == it->second.end() ? nullptr : found->second;
  }

  Result<Node*> ExtendsDoc(const fs::path& abs) {
    auto it = extends_docs_.find(abs.string());
    if (it != extends_docs_.end()) return it->second.get();
    ASSIGN_OR_RETURN(Node doc, LoadDocument(abs, abs.parent_path()));
    auto owned = std::make_unique<Node>(std::move(doc));
    Node* p = owned.get();
    extends_docs_[abs.string()] = std::move(owned);
    return p;
  }

  // Resolves `svc`'s extends in place. Its base is resolved in place first (in `doc`, or in
  // the file extends names), so each service is resolved once however long the chains; the
  // copies of bases count against kMaxExtendsNodes / kMaxExtendsBytes, chains are at most
  // kMaxExtendsChain services long.
  Status ResolveExtends(Node* svc, const std::string& name, Node* doc, const fs::path& file,
                        std::vector<std::pair<fs::path, std::string>>* chain) {
    const Node* ext = svc->Find("extends");
    if (ext == nullptr) return Status::OK();
    const std::string path = JoinPath(JoinPath("services", name), "extends");
    RETURN_IF_ERROR(ExpectMap(*ext, path, "a service name or {service, file}"));
    const Node* sn = ext->Find("service");
    if (sn == nullptr) return NodeError(*ext, path, "has no service", "service: <name>");
    ASSIGN_OR_RETURN(std::string base_name, ReadString(*sn, JoinPath(path, "service")));
    fs::path base_file = file;
    Node* base_doc = doc;
    if (const Node* f = ext->Find("file")) {
      ASSIGN_OR_RETURN(std::string fname, ReadString(*f, JoinPath(path, "file")));
      base_file = fs::path(fname);
      std::error_code ec;
      if (!fs::exists(base_file, ec)) {
        return NodeError(*f, JoinPath(path, "file"),
                         "file " + Quote(Display(base_file)) + " not found",
                         "a compose file, relative to the file that names it");
      }
      ASSIGN_OR_RETURN(base_doc, ExtendsDoc(base_file));
    }
    for (const auto& [f, n] : *chain) {
      if (f == base_file && n == base_name) {
        std::vector<std::string> names;
        for (const auto& [cf, cn] : *chain) names.push_back(ChainName(cf, cn));
        names.push_back(ChainName(base_file, base_name));
        return NodeError(*ext, path, "extends cycle " + Joined(names, " -> "),
                         "services that do not extend each other in a loop");
      }
    }
    if (chain->size() >= kMaxExtendsChain) {
      return NodeError(
          *ext, path, "extends chain longer than " + std::to_string(kMaxExtendsChain) + " services",
          "a shorter chain of services extending each other");
    }
    Node* base = FindService(base_doc, base_name);
    if (base == nullptr) {
      return NodeError(*sn, JoinPath(path, "service"),
                       "service " + Quote(base_name) + " not found in " + Display(base_file),
                       "a service defined in that file");
    }
    if (base->Find("extends") != nullptr) {
      chain->emplace_back(base_file, base_name);
      RETURN_IF_ERROR(ResolveExtends(base, base_name, base_doc, base_file, chain));
      chain->pop_back();
    }
    RETURN_IF_ERROR(ChargeExtendsCopy(*base, *ext, path));
    Node merged = *base;
    // The extending service's `!reset` / `!override` entries go from its copy of the base.
    if (const MergeTags* s = merge_tags_[file.string()].Find("services")) {
      if (const MergeTags* t = s->Find(name)) ApplyMergeTags(&merged, *t);
    }
    Node over = std::move(*svc);
    over.Erase("extends");
    MergeService(&merged, over);
    merged.Erase("extends");
    merged.key = std::move(over.key);
    merged.key_loc = std::move(over.key_loc);
    merged.loc = std::move(over.loc);
    *svc = std::move(merged);
    return Status::OK();
  }

  // Counts the copy of `base` that an extends makes; refused past the budget.
  Status ChargeExtendsCopy(const Node& base, const Node& ext, const std::string& path) {
    std::vector<const Node*> todo = {&base};
    while (!todo.empty()) {
      const Node* n = todo.back();
      todo.pop_back();
      ++extends_nodes_;
      extends_bytes_ += n->scalar.size() + n->key.size();
      for (const Node& c : n->children) todo.push_back(&c);
    }
    if (extends_nodes_ > kMaxExtendsNodes || extends_bytes_ > kMaxExtendsBytes) {
      return NodeError(ext, path,
                       "extends copies more than " +
                           (extends_nodes_ > kMaxExtendsNodes
                                ? std::to_string(kMaxExtendsNodes) + " nodes"
                                : std::to_string(kMaxExtendsBytes >> 20) + " MiB of text") +
                           " in all",
                       "fewer or smaller services to extend");
    }
    return Status::OK();
  }

  std::string ChainName(const fs::path& f, const std::string& n) const {
    if (f == files_.front()) return n;
    return n + " (" + Display(f) + ")";
  }

  Result<std::string> ProjectName(const Node& merged) {
    if (!opts_.project_name.empty()) {
      if (!ValidProjectName(opts_.project_name)) {
        return InvalidInput("-p: " + Quote(opts_.project_name) +
                            " is not a valid project name (expected " + kNameExpected + ")");
      }
      return opts_.project_name;
    }
    if (auto it = env_.find("COMPOSE_PROJECT_NAME"); it != env_.end() && !it->second.empty()) {
      if (!ValidProjectName(it->second)) {
        return InvalidInput("COMPOSE_PROJECT_NAME: " + Quote(it->second) +
                            " is not a valid project name (expected " + kNameExpected + ")");
      }
      return it->second;
    }
    if (const Node* n = merged.Find("name"); n && !n->IsNull()) {
      ASSIGN_OR_RETURN(std::string name, ReadString(*n, "name"));
      if (!ValidProjectName(name)) {
        return NodeError(*n, "name", Quote(name) + " is not a valid project name", kNameExpected);
      }
      return name;
    }
    std::string name = NormalizeProjectName(project_dir_.filename().string());
    if (name.empty()) {
      return InvalidInput(Quote(project_dir_.string()) +
                          ": cannot derive a project name from this folder (expected a top-level "
                          "name: or -p NAME)");
    }
    return name;
  }

  Status ParseTopSlipway(const Node& x, Project* p) {
    static const std::vector<std::string> kKnown = {
        "api",   "flags",   "databases", "backups", "alerts", "notifications", "routes",
        "proxy", "runtime", "tls",       "ingress", "scrape", "dashboard"};
    RETURN_IF_ERROR(ExpectMap(x, "x-slipway", "a mapping with " + Joined(kKnown)));
    for (const Node& f : x.children) {
      const std::string fpath = JoinPath("x-slipway", f.key);
      if (f.key == "alerts" || f.key == "notifications") {  // config/alerts_settings.h
        RETURN_IF_ERROR(
            f.key == "alerts"
                ? ParseAlertsSettings(f, fpath, &p->alerts, project_dir_.string())
                : ParseNotificationSettings(f, fpath, &p->notifications, project_dir_.string()));
        continue;
      }
      if (f.key == "tls") {  // config/tls_settings.h
        RETURN_IF_ERROR(ParseTlsSettings(f, fpath, project_dir_.string(),
                                         Clock::Real()->WallMillis() / 1000, &p->tls));
        continue;
      }
      if (f.key == "dashboard") {  // config/dashboard_settings.h
        RETURN_IF_ERROR(ParseDashboardSettings(f, fpath, &p->dashboard));
        continue;
      }
      if (f.key == "scrape") {  // config/metrics_settings.h
        RETURN_IF_ERROR(ParseScrapeSettings(f, fpath, &p->scrape));
        continue;
      }
      if (f.key == "proxy") {  // config/proxy_settings.h
        RETURN_IF_ERROR(ParseProxySettings(f, fpath, &p->proxy));
        continue;
      }
      if (f.key == "routes") {  // config/routes_settings.h
        RETURN_IF_ERROR(ParseRoutesSettings(f, fpath, &p->routes));
        continue;
      }
      if (f.key == "flags") {  // config/flags_settings.h
        RETURN_IF_ERROR(ParseFlagsSettings(f, fpath, project_dir_.string(), &p->flags));
        continue;
      }
      if (f.key == "databases" || f.key == "backups") {  // config/databases_settings.h
        RETURN_IF_ERROR(f.key == "databases" ? ParseDatabasesSettings(f, fpath, &p->databases)
                                             : ParseBackupsSettings(f, fpath, &p->backups));
        continue;
      }
      if (f.key == "ingress") {  // src/ingress
        ASSIGN_OR_RETURN(p->ingress, ReadBool(f, fpath));
        continue;
      }
      if (f.key == "runtime") {  // config/volumes_settings.h: the services' default
        ASSIGN_OR_RETURN(p->runtime, ReadRuntimeChoice(f, fpath));
        continue;
      }
      if (f.key != "api") {
        return NodeError(f, fpath, "unknown key " + Quote(f.key), "one of " + Joined(kKnown));
      }
      RETURN_IF_ERROR(ParseApiSettings(f, fpath, project_dir_.string(),  // config/api_settings.h
                                       Clock::Real()->WallMillis() / 1000, &p->api));
    }
    return Status::OK();
  }

  Result<Project> Build(Node merged) {
    Project p;
    p.dir = project_dir_;
    p.files = files_;
    p.env_name = opts_.env_name;
    p.env_overlay = selection_.overlay;
    p.env_files = selection_.env_files;
    ASSIGN_OR_RETURN(p.name, ProjectName(merged));

    std::set<std::string> warned;
    ParseContext ctx;
    ctx.project_dir = project_dir_;
    ctx.environment = EnvLookup();
    ctx.display = [this](const fs::path& f) { return Display(f); };
    ctx.warnings = &warnings_;
    ctx.warned = &warned;
    ctx.project = &p;
    ServiceParser parser(ctx);

    for (const Node& top : merged.children) {
      if (top.key == "name" || top.key == "services" || top.key == "secrets" ||
          top.key == "volumes" || top.key == "configs" || top.key.rfind("x-", 0) == 0) {
        continue;
      }
      parser.Ignored(top.key);
    }
    if (const Node* x = merged.Find("x-slipway")) RETURN_IF_ERROR(ParseTopSlipway(*x, &p));
    if (const Node* s = merged.Find("secrets"); s && !s->IsNull()) {
      ASSIGN_OR_RETURN(p.secrets, parser.ParseSecrets(*s));
    }
    // Named volumes and configs (config/volumes_settings.h), read by the services' mounts.
    const IgnoredFn ignored = [&parser](const std::string& path) { parser.Ignored(path); };
    if (const Node* v = merged.Find("volumes"); v && !v->IsNull()) {
      ASSIGN_OR_RETURN(p.volumes, ParseNamedVolumes(*v, p.name, ignored));
    }
    if (const Node* c = merged.Find("configs"); c && !c->IsNull()) {
      ASSIGN_OR_RETURN(
          p.configs, ParseSecretSources(*c, /*configs=*/true, EnvLookup(), ignored, project_dir_));
    }
    const Node* services = merged.Find("services");
    if (services == nullptr || services->children.empty()) {
      return ErrorAt(SourceLoc{Display(files_.front()), 0, 0}, "services", "no services defined",
                     "at least one service under services:");
    }
    std::map<std::string, Service> all;
    std::unordered_map<std::string, const Node*> depends_on;  // service -> its depends_on
    for (const Node& svc : services->children) {
      const std::string path = JoinPath("services", svc.key);
      if (!ValidServiceName(svc.key)) {
        return NodeError(svc, path, Quote(svc.key) + " is not a valid service name",
                         "letters, digits, '-', '_' and '.'");
      }
      ASSIGN_OR_RETURN(Service s, parser.Parse(svc.key, svc, p.secrets));
      all[svc.key] = std::move(s);
      depends_on[svc.key] = svc.Find("depends_on");
    }

    // Profiles: services without profiles always run; others when enabled.
    std::set<std::string> enabled(opts_.profiles.begin(), opts_.profiles.end());
    if (auto it = env_.find("COMPOSE_PROFILES"); it != env_.end()) {
      std::string list = it->second;
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string item =
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) enabled.insert(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    auto active = [&](const Service& s) {
      if (s.profiles.empty() || enabled.count("*")) return true;
      return std::any_of(s.profiles.begin(), s.profiles.end(),
                         [&](const std::string& pr) { return enabled.count(pr) > 0; });
    };

    std::vector<std::string> names;
    names.reserve(all.size());
    for (const auto& [n, _] : all) names.push_back(n);
    for (auto& [name, s] : all) {
      const Node* deps = depends_on.at(name);
      for (const Dependency& d : s.depends_on) {
        if (all.count(d.service)) continue;
        const Node* dn = deps ? deps->Find(d.service) : nullptr;
        return ErrorAt(dn ? dn->ErrorLoc() : s.loc,
                       JoinPath(JoinPath("services", name), "depends_on." + d.service),
                       "service " + Quote(d.service) + " is not defined",
                       "one of " + Joined(names));
      }
    }
    for (auto& [name, s] : all) {
      if (!active(s)) continue;
      const Node* deps = depends_on.at(name);
      std::vector<Dependency> kept;
      for (const Dependency& d : s.depends_on) {
        const Service& target = all.at(d.service);
        if (active(target)) {
          kept.push_back(d);
          continue;
        }
        if (!d.required) continue;  // optional and not enabled: dropped
        const Node* dn = deps ? deps->Find(d.service) : nullptr;
        return ErrorAt(
            dn ? dn->ErrorLoc() : s.loc,
            JoinPath(JoinPath("services", name), "depends_on." + d.service),
            "service " + Quote(d.service) + " is not enabled (it needs profile " +
                Joined(target.profiles, " or ") + ")",
            "--profile " + target.profiles.front() + ", or required: false on this dependency");
      }
      s.depends_on = std::move(kept);
      p.services[name] = s;
    }
    RETURN_IF_ERROR(CheckDependencyCycles(p, depends_on));
    RETURN_IF_ERROR(CheckPublishedPorts(p));
    RETURN_IF_ERROR(CheckRoutes(merged, all, &p));
    // ACME names are resolved now (routes and ports known), so every error is a load error.
    if (p.tls.acme) RETURN_IF_ERROR(ResolveAcmeNames(p, &*p.tls.acme));
    RETURN_IF_ERROR(CheckHookDatabases(p));
    p.warnings = std::move(warnings_);
    p.model = std::make_shared<const Node>(std::move(merged));
    return p;
  }

  // Depth-first, with an explicit stack: a chain of many thousand services must not
  // exhaust the thread's stack.
  Status CheckDependencyCycles(const Project& p,
                               const std::unordered_map<std::string, const Node*>& depends_on) {
    enum class State { kNew, kOnStack, kDone };
    std::unordered_map<std::string, State> state;
    struct Frame {
      const std::string* name;
      const std::vector<Dependency>* deps;
      size_t next = 0;
    };
    std::vector<Frame> stack;
    for (const auto& [root, _] : p.services) {
      if (state[root] != State::kNew) continue;
      state[root] = State::kOnStack;
      stack.push_back({&root, &p.services.at(root).depends_on});
      while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.next == f.deps->size()) {
          state[*f.name] = State::kDone;
          stack.pop_back();
          continue;
        }
        const Dependency& d = (*f.deps)[f.next++];
        State& ds = state[d.service];
        if (ds == State::kOnStack) {
          std::vector<std::string> cycle;
          bool in = false;
          for (const Frame& g : stack) {
            in = in || *g.name == d.service;
            if (in) cycle.push_back(*g.name);
          }
          cycle.push_back(d.service);
          const std::string& n = *f.name;
          const Node* dn = depends_on.at(n)->Find(d.service);
          return NodeError(*dn, JoinPath(JoinPath("services", n), "depends_on." + d.service),
                           "dependency cycle " + Joined(cycle, " -> "),
                           "services that do not depend on each other in a loop");
        }
        if (ds == State::kNew) {
          ds = State::kOnStack;
          auto it = p.services.find(d.service);
          stack.push_back({&it->first, &it->second.depends_on});
        }
      }
    }
    return Status::OK();
  }

  // Built-in backup/migrate steps name databases of x-slipway.databases; a database's
  // `service` names a service of the project.
  Status CheckHookDatabases(const Project& p) {
    for (const auto& [name, db] : p.databases) {
      if (db.service.empty() || p.services.count(db.service)) continue;
      std::vector<std::string> services;
      for (const auto& [n, _] : p.services) services.push_back(n);
      return InvalidInput(db.where + ": x-slipway.databases." + name + ".service: service " +
                          Quote(db.service) + " is not defined (expected one of " +
                          Joined(services) + ")");
    }
    std::vector<std::string> names;
    for (const auto& [n, _] : p.databases) names.push_back(n);
    for (const auto& [_, s] : p.services) {
      for (const HookStep& step : s.deploy.pre_hook) {
        if (step.kind == HookStep::Kind::kRun) continue;
        if (p.databases.empty()) {
          return InvalidInput(step.where + ": " + step.path + ": " + step.Describe() +
                              " needs a database, and x-slipway.databases defines none" +
                              " (expected x-slipway.databases.<name>.url)");
        }
        if (!step.database.empty() && !p.databases.count(step.database)) {
          return InvalidInput(step.where + ": " + step.path + ": database " + Quote(step.database) +
                              " is not defined (expected one of " + Joined(names) + ")");
        }
      }
    }
    return Status::OK();
  }

  // Routes name defined services; a route to a service left out by the profiles is dropped
  // with a warning. A route may not shadow a published port's own catch-all route.
  Status CheckRoutes(const Node& merged, const std::map<std::string, Service>& all, Project* p) {
    if (p->routes.empty()) return Status::OK();
    const Node& list = *merged.Find("x-slipway")->Find("routes");
    std::vector<std::string> names;
    names.reserve(all.size());
    for (const auto& [n, _] : all) names.push_back(n);
    // The first tcp port published on each host port, in the order of the check below.
    std::unordered_map<int, std::pair<const std::string*, const PortMapping*>> catch_all;
    for (const auto& [name, s] : p->services) {
      for (const PortMapping& pm : s.ports) {
        if (pm.protocol == TransportProtocol::kTcp) {
          catch_all.try_emplace(pm.published, &name, &pm);
        }
      }
    }
    std::vector<RouteSettings> kept;
    for (size_t i = 0; i < p->routes.size(); ++i) {
      RouteSettings& r = p->routes[i];
      const Node& item = list.children[i];
      const std::string path = IndexPath("x-slipway.routes", i);
      const Node* sn = item.Find("service");
      if (!all.count(r.service)) {
        return NodeError(*sn, JoinPath(path, "service"),
                         "service " + Quote(r.service) + " is not defined",
                         "one of " + Joined(names));
      }
      auto svc = p->services.find(r.service);
      if (svc == p->services.end()) {
        warnings_.push_back(path + ": service " + r.service +
                            " is not enabled by the profiles; route ignored");
        continue;
      }
      if (r.listen_port == 0 && !p->ingress) {
        return NodeError(item, JoinPath(path, "listen"), "is required",
                         "the port to accept requests on, e.g. 8080 (or x-slipway.ingress: true "
                         "and a host, served by the host's ingress)");
      }
      if (r.listen_port == 0 && r.host.empty()) {
        return NodeError(item, JoinPath(path, "host"), "is required for a route without listen",
                         "the host name the ingress routes by, e.g. shop.example.com");
      }
      if (r.port == 0 && !svc->second.ports.empty()) r.port = svc->second.ports.front().target;
      if (auto c = catch_all.find(r.listen_port);
          r.listen_port != 0 && r.host.empty() && r.path == "/" && c != catch_all.end()) {
        const auto& [name, pm] = c->second;
        return NodeError(item, path,
                         "listener " + std::to_string(r.listen_port) +
                             " already sends every path to " + *name + " (its ports entry at " +
                             pm->loc.ToString() + ")",
                         "a path other than / on this listener, or a host");
      }
      kept.push_back(std::move(r));
    }
    p->routes = std::move(kept);
    return Status::OK();
  }

  // Two published ports clash when port and protocol match and their addresses do (or one
  // is a wildcard). Grouped by port/protocol: a group without a clash holds one wildcard or
  // distinct addresses, so each port is checked against at most two entries.
  Status CheckPublishedPorts(const Project& p) {
    struct Seen {
      const PortMapping* port;
      std::string path;
    };
    struct Group {
      std::unordered_map<std::string, Seen> by_ip;
      const Seen* first = nullptr;
      const Seen* wildcard = nullptr;
    };
    std::map<std::pair<int, TransportProtocol>, Group> groups;
    for (const auto& [name, s] : p.services) {
      for (size_t i = 0; i < s.ports.size(); ++i) {
        const PortMapping& pm = s.ports[i];
        if (pm.published == 0) continue;
        const std::string path = IndexPath(JoinPath(JoinPath("services", name), "ports"), i);
        Group& g = groups[{pm.published, pm.protocol}];
        const Seen* clash = nullptr;
        if (IsWildcardIp(pm.host_ip)) {
          clash = g.first;
        } else if (g.wildcard != nullptr) {
          clash = g.wildcard;
        } else if (auto it = g.by_ip.find(pm.host_ip); it != g.by_ip.end()) {
          clash = &it->second;
        }
        if (clash != nullptr) {
          const Seen& o = *clash;
          return ErrorAt(pm.loc, path,
                         "published port " + std::to_string(pm.published) + "/" +
                             std::string(kTransportProtocolNames.Name(pm.protocol)) +
                             " is already used by " + o.path + " (" + o.port->loc.ToString() + ")",
                         "each published port once");
        }
        const Seen* added = &g.by_ip.try_emplace(pm.host_ip, Seen{&pm, path}).first->second;
        if (g.first == nullptr) g.first = added;
        if (IsWildcardIp(pm.host_ip)) g.wildcard = added;
      }
    }
    return Status::OK();
  }

  const LoadOptions& opts_;
  fs::path working_dir_;
  fs::path project_dir_;
  std::vector<fs::path> files_;
  ProjectFiles selection_;                     // config/environment.h
  std::map<std::string, std::string> labels_;  // absolute path -> name the user gave
  std::map<std::string, std::string> env_;     // .env values under the process environment
  std::vector<std::string> warnings_;
  std::map<std::string, std::unique_ptr<Node>> extends_docs_;
  std::map<std::string, MergeTags> merge_tags_;  // file -> its merge directives
  std::map<const Node*, std::unordered_map<std::string, Node*>> service_index_;
  size_t extends_nodes_ = 0;  // copied by extends so far
  size_t extends_bytes_ = 0;
};

}  // namespace

const std::vector<std::string>& ComposeFileNames() {
  static const std::vector<std::string> kNames = {"compose.yaml", "compose.yml",
                                                  "docker-compose.yml", "docker-compose.yaml"};
  return kNames;
}

const std::vector<std::string>& OverrideFileNames() {
  static const std::vector<std::string> kNames = {"compose.override.yaml", "compose.override.yml",
                                                  "docker-compose.override.yml",
                                                  "docker-compose.override.yaml"};
  return kNames;
}

std::string NormalizeProjectName(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::isalnum(static_cast<unsigned char>(l)) || l == '-' || l == '_') out += l;
  }
  size_t first = 0;
  while (first < out.size() && !std::isalnum(static_cast<unsigned char>(out[first]))) ++first;
  return out.substr(first);
}

Result<Project> LoadProject(const LoadOptions& options) {
  // The bounds above keep a load to a few hundred MiB; under a tighter memory limit
  // (ulimit -v) the answer is still one line and exit 2, not an abort.
  try {
    Loader loader(options);
    return loader.Run();
  } catch (const std::bad_alloc&) {
    return InvalidInput(
        "not enough memory to load the compose project (expected smaller "
        "compose files, or a higher memory limit)");
  }
}

std::map<std::string, std::string> CurrentEnviron() {
  std::map<std::string, std::string> out;
  for (char** e = ::environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

}  // namespace slipway::config

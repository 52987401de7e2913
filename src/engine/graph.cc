#include "engine/graph.h"

#include <algorithm>
#include <map>
#include <set>

namespace slipway::engine {
namespace {

using config::Project;

// "<file:line:col>: services.<name>.depends_on: <what>", or without the
// location when the loader did not record one.
Status DependsError(const Project& p, const std::string& service, const std::string& what) {
  std::string msg;
  auto it = p.services.find(service);
  if (it != p.services.end() && !it->second.loc.file.empty()) {
    msg = it->second.loc.ToString() + ": ";
  }
  msg += "services." + service + ".depends_on: " + what;
  return InvalidInput(std::move(msg));
}

// Dependencies of `service` that are services of the project, sorted, unique.
std::vector<std::string> PresentDeps(const Project& p, const std::string& service) {
  std::vector<std::string> out;
  auto it = p.services.find(service);
  if (it == p.services.end()) return out;
  for (const config::Dependency& d : it->second.depends_on) {
    if (p.services.count(d.service) != 0) out.push_back(d.service);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct TopoResult {
  std::vector<std::string> order;
  std::set<std::string> stuck;  // nodes left on a cycle or behind one
};

// Kahn's algorithm over `nodes` (closed under PresentDeps), always taking the
// smallest ready name. With `break_cycles`, a stall releases the smallest
// remaining name instead of stopping.
TopoResult Topo(const Project& p, const std::set<std::string>& nodes, bool break_cycles) {
  std::map<std::string, int> pending;  // unmet dependencies per node
  std::map<std::string, std::vector<std::string>> dependents;
  for (const std::string& n : nodes) {
    std::vector<std::string> deps = PresentDeps(p, n);
    int count = 0;
    for (const std::string& d : deps) {
      if (nodes.count(d) == 0) continue;
      dependents[d].push_back(n);
      ++count;
    }
    pending[n] = count;
  }
  std::set<std::string> ready;
  std::set<std::string> remaining(nodes.begin(), nodes.end());
  for (const auto& [n, c] : pending) {
    if (c == 0) ready.insert(n);
  }
  TopoResult r;
  while (!remaining.empty()) {
    if (ready.empty()) {
      if (!break_cycles) break;
      ready.insert(*remaining.begin());
    }
    std::string n = *ready.begin();
    ready.erase(ready.begin());
    if (remaining.erase(n) == 0) continue;
    r.order.push_back(n);
    for (const std::string& dep : dependents[n]) {
      if (remaining.count(dep) != 0 && --pending[dep] == 0) ready.insert(dep);
    }
  }
  r.stuck = std::move(remaining);
  return r;
}

// A cycle among `stuck`: every stuck node has a stuck dependency, so walking
// dependencies from any of them must come back to a node already seen.
std::vector<std::string> FindCycle(const Project& p, const std::set<std::string>& stuck) {
  std::vector<std::string> path;
  std::map<std::string, size_t> index;
  std::string cur = *stuck.begin();
  while (index.count(cur) == 0) {
    index[cur] = path.size();
    path.push_back(cur);
    std::string next;
    for (const std::string& d : PresentDeps(p, cur)) {
      if (stuck.count(d) != 0) {
        next = d;
        break;
      }
    }
    SLIPWAY_CHECK(!next.empty());
    cur = next;
  }
  std::vector<std::string> cycle(path.begin() + static_cast<std::ptrdiff_t>(index[cur]),
                                 path.end());
  // Start at the smallest name so the message does not depend on where the walk began.
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  return cycle;
}

}  // namespace

Status CheckServiceNames(const config::Project& p, const std::vector<std::string>& services) {
  for (const std::string& s : services) {
    if (p.services.count(s) == 0) return InvalidInput("no such service: \"" + s + "\"");
  }
  return Status::OK();
}

Result<std::vector<std::string>> StartOrder(const config::Project& p,
                                            const std::vector<std::string>& targets) {
  RETURN_IF_ERROR(CheckServiceNames(p, targets));
  std::vector<std::string> todo;
  if (targets.empty()) {
    for (const auto& [name, svc] : p.services) todo.push_back(name);
  } else {
    todo = targets;
  }
  // Closure over dependencies; unknown required ones are the user's error.
  std::set<std::string> nodes;
  while (!todo.empty()) {
    std::string n = std::move(todo.back());
    todo.pop_back();
    if (!nodes.insert(n).second) continue;
    for (const config::Dependency& d : p.services.at(n).depends_on) {
      if (p.services.count(d.service) != 0) {
        todo.push_back(d.service);
      } else if (d.required) {
        return DependsError(p, n, "unknown service \"" + d.service + "\"");
      }
    }
  }
  TopoResult r = Topo(p, nodes, /*break_cycles=*/false);
  if (!r.stuck.empty()) {
    std::vector<std::string> cycle = FindCycle(p, r.stuck);
    std::string text;
    for (const std::string& n : cycle) text += n + " -> ";
    text += cycle.front();
    return DependsError(p, cycle.front(), "dependency cycle: " + text);
  }
  return r.order;
}

std::vector<std::string> StopOrder(const config::Project& p,
                                   const std::vector<std::string>& services) {
  std::set<std::string> wanted(services.begin(), services.end());
  std::set<std::string> all;
  for (const auto& [name, svc] : p.services) all.insert(name);
  TopoResult r = Topo(p, all, /*break_cycles=*/true);
  std::vector<std::string> out;
  for (const std::string& n : wanted) {
    if (all.count(n) == 0) out.push_back(n);  // unknown to the project: first, by name
  }
  for (auto it = r.order.rbegin(); it != r.order.rend(); ++it) {
    if (wanted.count(*it) != 0) out.push_back(*it);
  }
  return out;
}

std::vector<std::string> Dependents(const config::Project& p, const std::string& service) {
  std::vector<std::string> out;
  for (const auto& [name, svc] : p.services) {
    for (const config::Dependency& d : svc.depends_on) {
      if (d.service == service) {
        out.push_back(name);
        break;
      }
    }
  }
  return out;
}

}  // namespace slipway::engine

// Registry: the ingress's table of registered projects (src/ingress/registration.h), kept in
// `<state>/routes.json` so an ingress that restarts serves every project again before any
// daemon speaks to it.
//
// Rules: a host name belongs to one project (a second project asking for it is refused,
// naming the owner); a project name belongs to one folder (two projects that share a name
// must not replace each other's routes); registering the same project again replaces its
// entry. Every change is written (temporary file, fsync, rename) before it is accepted: an
// error leaves the table and the file as they were.
//
// Owned by the ingress's control loop; one thread at a time.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "base/status.h"
#include "ingress/registration.h"

namespace slipway::ingress {

class Registry {
 public:
  // Reads `<state_dir>/routes.json` when it exists. A file that does not parse is an error
  // naming it and the entry (the ingress refuses to start rather than drop projects).
  static Result<Registry> Open(const std::filesystem::path& state_dir);

  // Adds or replaces `r`. AlreadyExists when a host is another project's, or the project
  // name was registered from another folder. `changed` says whether anything differs.
  Status Register(const Registration& r, bool* changed = nullptr);
  // Checks what Register would refuse, changing nothing.
  Status CheckConflicts(const Registration& r) const;
  // Removes a project. NotFound when it is not registered; FailedPrecondition when `folder`
  // (if not empty) is not the folder it was registered from.
  Status Deregister(const std::string& project, const std::string& folder);

  const std::map<std::string, Registration>& projects() const { return projects_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  Status Save(const std::map<std::string, Registration>& projects) const;

  std::filesystem::path file_;
  std::map<std::string, Registration> projects_;  // by project name
};

}  // namespace slipway::ingress

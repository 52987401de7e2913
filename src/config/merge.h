// Normalisation and merging of Compose documents, per the compose
// specification's merge rules.
//
// Normalize* rewrites the short forms that merge differently from their long
// form (environment/labels lists become maps, depends_on lists become maps,
// `build: dir` becomes {context}, `env_file: x` becomes a list, `extends: s`
// becomes {service}) and resolves relative paths against `base_dir`, so that
// documents from different files and folders can be merged.
//
// Merge*: mappings merge key by key; later scalars win; `command`,
// `entrypoint` and `healthcheck.test` are replaced; `ports` are de-duplicated
// by published+target+protocol, `secrets` by target, `env_file` by path,
// other lists are appended without exact duplicates. The `!reset` tag removes
// a value, `!override` replaces it without merging, on any kind of value (mapping, list,
// scalar; an entry of a mapping, a whole service or top-level key): TakeMergeTags takes them
// out of a document before it is normalized (a list may become a mapping there), and
// ApplyMergeTags removes what they name from the document they are merged onto, or from the
// copy of the base service an `extends` starts from, as compose-go does.
//
// Pure functions over Node trees; any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "config/node.h"

namespace slipway::config {

// Normalizes one service mapping in place. `path` is "services.<name>".
Status NormalizeService(Node* service, const std::string& path,
                        const std::filesystem::path& base_dir);

// Normalizes a whole document: every service, and top-level secrets' files.
Status NormalizeDocument(Node* root, const std::filesystem::path& base_dir);

// Merges `over` onto `base` (both normalized services).
void MergeService(Node* base, const Node& over);

// Merges a whole document onto `base` (both normalized, top-level mappings).
void MergeDocument(Node* base, const Node& over);

// The merge directives of one document, as a tree of keys: `here` when the entry at this
// path was tagged `!reset` or `!override`, `below` for the tagged entries under it.
struct MergeTags {
  bool here = false;
  std::unordered_map<std::string, std::unique_ptr<MergeTags>> below;

  // The subtree at `key`, or nullptr.
  const MergeTags* Find(const std::string& key) const;
};

// Takes the merge directives out of `doc`: an entry tagged `!reset` is removed, an entry tagged
// `!override` loses its tag, and both are recorded. Inside lists, tagged items are treated
// alike but not recorded: compose-go never removes base list items by position.
MergeTags TakeMergeTags(Node* doc);

// Removes from the mapping `base` the entries `tags` names (its root is `base`). Entries that
// are not there, or under a list, change nothing. Linear in the maps on the tagged paths.
void ApplyMergeTags(Node* base, const MergeTags& tags);

// Removes merge tags left in a single document (a lone `!reset` is null).
void StripMergeTags(Node* n);

// The identity ports are de-duplicated by: "published:target/protocol".
std::string PortMergeKey(const Node& port);

}  // namespace slipway::config

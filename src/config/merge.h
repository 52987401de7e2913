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
// a value, `!override` replaces it without merging.
//
// Pure functions over Node trees; any thread.
#pragma once

#include <filesystem>
#include <string>

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

// Removes merge tags left in a single document (a lone `!reset` is null).
void StripMergeTags(Node* n);

// The identity ports are de-duplicated by: "published:target/protocol".
std::string PortMergeKey(const Node& port);

}  // namespace slipway::config

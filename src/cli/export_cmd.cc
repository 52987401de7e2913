#include "cli/export_cmd.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>

#include "cli/checks.h"
#include "export/kubernetes.h"

namespace slipway::cli {

namespace {

struct ExportFlags {
  std::string namespace_name;
  std::string rollouts;
  std::vector<std::string> images;
  std::string out_dir;
  bool secret_values = false;
};

int RunExport(CliContext& ctx, const ExportFlags& f) {
  constexpr std::string_view kCmd = "export kubernetes";
  exporter::ExportOptions o;
  o.namespace_name = f.namespace_name;
  o.secret_values = f.secret_values;
  if (f.rollouts == "argo") {
    o.rollouts = exporter::Rollouts::kArgo;
  } else if (!f.rollouts.empty()) {
    return CliContext::Fail(InvalidInput("--rollouts " + f.rollouts + ": unknown (expected argo)"),
                            kCmd);
  }
  for (const std::string& flag : f.images) {
    Result<std::pair<std::string, std::string>> kv = exporter::ParseImageFlag(flag);
    if (!kv.ok()) return CliContext::Fail(kv.status(), kCmd);
    o.images[kv->first] = kv->second;
  }
  Result<const config::Project*> project = ctx.Project();
  if (!project.ok()) return CliContext::Fail(project.status(), kCmd);
  Result<exporter::Export> e = exporter::ExportKubernetes(**project, o);
  if (!e.ok()) return CliContext::Fail(e.status(), kCmd);

  for (const std::string& n : e->unmapped)
    std::fprintf(stderr, "slipway: not mapped: %s\n", n.c_str());
  if (f.out_dir.empty()) {
    std::string out = exporter::RenderStream(*e);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
  }
  auto files = exporter::RenderFolder(*e, o);
  Status st = exporter::WriteFolder(f.out_dir, files);
  if (!st.ok()) return CliContext::Fail(st, kCmd);
  std::fprintf(stderr, "slipway: wrote %zu files to %s (kubectl apply -k %s)\n", files.size(),
               f.out_dir.c_str(), f.out_dir.c_str());
  return 0;
}

}  // namespace

void AddExportCommands(CLI::App& app, CliContext& ctx, int* rc) {
  auto* exp = app.add_subcommand("export", "Render the project for another engine");
  exp->require_subcommand(1);
  auto flags = std::make_shared<ExportFlags>();
  auto* k8s = exp->add_subcommand("kubernetes", "Render the project as Kubernetes manifests");
  k8s->alias("k8s");
  k8s->add_option("--namespace,-n", flags->namespace_name, "metadata.namespace of every object")
      ->check(Check("NAME", [](const std::string& v) {
        // A Kubernetes namespace: an RFC 1123 label.
        const bool ok = !v.empty() && v.size() <= 63 &&
                        std::isalnum(static_cast<unsigned char>(v.front())) &&
                        std::isalnum(static_cast<unsigned char>(v.back())) &&
                        std::all_of(v.begin(), v.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                        });
        return ok ? std::string()
                  : std::string(
                        "a namespace (1 to 63 of a-z, 0-9, '-', starting and ending with "
                        "a letter or digit)");
      }));
  k8s->add_option("--rollouts", flags->rollouts,
                  "argo: blue-green and canary services become Argo Rollouts")
      ->check(OneOf({"argo"}));
  k8s->add_option("--image", flags->images,
                  "SERVICE=IMAGE: the image a service runs in the cluster (repeatable)")
      ->check(Check("SERVICE=IMAGE", [](const std::string& v) {
        return v.size() <= 4096 && exporter::ParseImageFlag(v).ok() ? std::string()
                                                                    : std::string("SERVICE=IMAGE");
      }));
  k8s->add_option("-o,--output", flags->out_dir,
                  "Write one file per object and a kustomization.yaml into this folder")
      ->check(Path());
  k8s->add_flag("--secret-values", flags->secret_values,
                "Write secret values into the Secrets (default: left empty)");
  k8s->callback([&ctx, rc, flags] { *rc = RunExport(ctx, *flags); });
}

}  // namespace slipway::cli

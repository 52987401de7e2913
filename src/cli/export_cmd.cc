#include "cli/export_cmd.h"

#include <cstdio>
#include <memory>

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
  k8s->add_option("--namespace,-n", flags->namespace_name, "metadata.namespace of every object");
  k8s->add_option("--rollouts", flags->rollouts,
                  "argo: blue-green and canary services become Argo Rollouts");
  k8s->add_option("--image", flags->images,
                  "SERVICE=IMAGE: the image a service runs in the cluster (repeatable)");
  k8s->add_option("-o,--output", flags->out_dir,
                  "Write one file per object and a kustomization.yaml into this folder");
  k8s->add_flag("--secret-values", flags->secret_values,
                "Write secret values into the Secrets (default: left empty)");
  k8s->callback([&ctx, rc, flags] { *rc = RunExport(ctx, *flags); });
}

}  // namespace slipway::cli

#include "cli/ingress_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/log.h"
#include "ingress/ingress.h"

namespace slipway::cli {

void AddIngressCommands(CLI::App& app, int* rc) {
  struct Flags {
    std::string http, https, state_dir;
    int workers = 0;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "ingress", "Run the host's front proxy on :80/:443 that projects register with");
  cmd->group("");  // hidden from --help
  cmd->add_option("--http", flags->http,
                  "plain HTTP address (default $SLIPWAY_INGRESS_HTTP, else 0.0.0.0:80)");
  cmd->add_option("--https", flags->https,
                  "HTTPS address (default $SLIPWAY_INGRESS_HTTPS, else 0.0.0.0:443)");
  cmd->add_option(
      "--state-dir", flags->state_dir,
      "state folder (default $SLIPWAY_STATE_DIR/ingress, else /var/lib/slipway/ingress)");
  cmd->add_option("--workers", flags->workers, "proxy worker threads (0 = one per core)")
      ->check(CLI::Range(0, 256));
  cmd->callback([flags, rc] {
    if (const char* f = std::getenv("SLIPWAY_LOG_FORMAT")) {
      if (auto parsed = logging::ParseLogFormat(f); parsed.ok()) logging::SetLogFormat(*parsed);
    }
    auto fail = [rc](const Status& st) {
      std::fprintf(stderr, "slipway ingress: %s\n", st.message().c_str());
      *rc = st.ExitCode();
    };
    Result<ingress::IngressOptions> o = ingress::OptionsFromEnvironment();
    if (!o.ok()) return fail(o.status());
    if (!flags->http.empty()) {
      auto a = ingress::ParseListenAddress(flags->http, "--http");
      if (!a.ok()) return fail(a.status());
      o->http = *a;
    }
    if (!flags->https.empty()) {
      auto a = ingress::ParseListenAddress(flags->https, "--https");
      if (!a.ok()) return fail(a.status());
      o->https = *a;
    }
    if (!flags->state_dir.empty()) o->state_dir = flags->state_dir;
    o->workers = flags->workers;
    *rc = ingress::RunIngress(std::move(o).value());
  });
}

}  // namespace slipway::cli

// cloudkeep: back up folders to several object stores and prove it.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "cli/app.h"

namespace {
std::atomic<bool> g_cancel{false};
extern "C" void OnSignal(int) {
  if (g_cancel.exchange(true)) std::_Exit(130);  // second Ctrl-C: leave now
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"cloudkeep: back up folders to S3 and B2, and prove the copies are there"};
  cli.require_subcommand(1);
  // global options (--config, --log-level, -q) may also follow the subcommand
  cli.fallthrough();
  ck::GlobalOptions g;
  cli.add_option("-c,--config", g.config_path,
                 "configuration file (default: $CLOUDKEEP_CONFIG or ./cloudkeep.toml)");
  cli.add_option("--log-level", g.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cli.add_flag("-q,--quiet", g.quiet, "no progress line");
  cli.set_version_flag("--version", "cloudkeep 0.1.0");

  std::string init_path;
  bool force = false;
  auto* init = cli.add_subcommand("init", "write a commented starter configuration");
  init->add_option("path", init_path, "where to write it (default: the --config path)");
  init->add_flag("--force", force, "overwrite an existing file");

  auto* config = cli.add_subcommand("config", "configuration commands");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "validate the configuration and credentials");

  auto* sync = cli.add_subcommand("sync", "scan the sources and upload everything new or changed");

  bool json = false;
  auto* status =
      cli.add_subcommand("status", "what is synced, pending and failed, per destination");
  status->add_flag("--json", json, "machine-readable output (the GET /api/status document)");
  bool db_only = false;
  status->add_flag("--db-only", db_only,
                   "figures from the state database only (no bucket listing, no request)");
  auto* serve = cli.add_subcommand("serve", "run the REST API and background sync until stopped");

  std::string dest;
  size_t limit = 0;
  auto* failed = cli.add_subcommand("failed", "list failed files with the reason");
  failed->add_flag("--json", json, "machine-readable output");
  failed->add_option("-d,--destination", dest, "only this destination");
  failed->add_option("-n,--limit", limit, "at most this many (default: all)");

  std::vector<std::string> paths;
  auto* retry = cli.add_subcommand("retry", "queue failed files again (failed -> pending)");
  retry->add_option("-d,--destination", dest, "only this destination");
  retry->add_option("paths", paths, "only these paths (relative to their source)");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : ck::kExitUsage;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  ck::App app(g);
  if (*init) return app.Init(init_path, force);
  if (*check) return app.ConfigCheck();
  if (*sync) {
    int rc = app.Sync(&g_cancel);
    if (g_cancel.load())
      std::fprintf(stderr, "interrupted: in-flight uploads finished, the rest stays pending\n");
    return rc;
  }
  if (*status) return app.Status(json, !db_only);
  if (*serve) return app.Serve();
  if (*failed) return app.Failed(json, dest, limit);
  if (*retry) return app.Retry(dest, paths);
  return ck::kExitUsage;
}

// The cloudkeep command-line application: each command is a method returning
// the process exit code (0 all synced / success, 1 some files failed or a
// destination failed, 2 usage or configuration error).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "dest/factory.h"
#include "http/http_client.h"
#include "state/state_store.h"

namespace ck {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string config_path;  // --config
  std::string log_level;    // --log-level, overrides the config's
  bool quiet = false;       // -q: no progress line
};

class App {
 public:
  explicit App(GlobalOptions opts);
  ~App();

  int Init(const std::string& path, bool force);
  int ConfigCheck();
  int Sync(std::atomic<bool>* cancel);
  // bucket_stats: combine live bucket figures (one listing per destination)
  // with the database, as GET /api/status does; false: database only.
  int Status(bool json, bool bucket_stats);
  // Runs the API, the dashboard and the background sync until SIGTERM/SIGINT.
  int Serve();
  int Failed(bool json, const std::string& destination, size_t limit);
  int Retry(const std::string& destination, const std::vector<std::string>& paths);

 private:
  // Loads the config (printing every issue) and sets up logging. False on error.
  bool LoadConfig(bool print_warnings);
  bool OpenStore();
  void BuildDestinations();
  // "3 put, 1 check": requests sent to a destination in this process.
  std::string RequestSummary(const std::string& destination) const;

  GlobalOptions opts_;
  Config config_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<HttpClient> http_;
  std::vector<DestinationHandle> dests_;
};

}  // namespace ck

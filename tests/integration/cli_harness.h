// Helpers for end-to-end tests that run the real `cloudkeep` binary against
// real local S3 servers and check the results with standard S3 tools.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "support/local_s3.h"

namespace ck::test {

// Deterministic pseudo-random bytes (fast: large files are generated per run).
std::string PseudoRandom(size_t n, uint64_t seed);
void WriteFile(const std::string& path, std::string_view data);
std::string ReadFile(const std::string& path);

// The awkward names the core issue lists, and more.
std::vector<std::string> AwkwardNames(size_t count);

struct CliRun {
  CommandResult r;
  std::string all() const { return r.out + r.err; }
};

// Runs `cloudkeep --config <config> args...` with the server's credentials in
// the environment (plus `env`).
CliRun Cloudkeep(const std::string& config, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 std::chrono::milliseconds timeout = std::chrono::minutes(10));

// Writes a config for one S3 destination named `dest_name` on `server`.
std::string WriteS3Config(const std::string& dir, const std::string& source, const S3Server& server,
                          const std::string& bucket, const std::string& dest_name = "aws-s3",
                          const std::string& extra_dest_lines = "");

// Environment for `aws` (AWS CLI) against the server.
std::map<std::string, std::string> AwsEnv(const S3Server& server);

// Downloads s3://bucket/prefix to `dir` with the AWS CLI (a standard tool, not
// our client). Returns false with a gtest failure when it does not work.
bool AwsDownload(const S3Server& server, const std::string& bucket, const std::string& prefix,
                 const std::string& dir);

// Every regular file below root, relative path -> size.
std::map<std::string, uint64_t> ListTree(const std::string& root);

// Unfinished multipart uploads in the bucket, via the AWS CLI.
int CountMultipartUploads(const S3Server& server, const std::string& bucket);

// Starts `cloudkeep --config <config> args...` in the background with the
// server credentials in `env`, stdout and stderr to `output` (or /dev/null).
// Returns the PID, or -1 with a gtest failure.
pid_t SpawnCloudkeep(const std::string& config, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env,
                     const std::string& output = "/dev/null");

// Runs a query returning one integer on a SQLite file, read-only; -1 on error.
int64_t QueryInt(const std::string& db, const std::string& sql);

// Parses "N <op>" out of the "requests: ..." part of a sync summary line (0 if absent).
uint64_t RequestCount(const std::string& output, const std::string& op);

}  // namespace ck::test

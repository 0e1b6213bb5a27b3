#include "integration/cli_harness.h"

#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

extern char** environ;

namespace ck::test {

namespace fs = std::filesystem;

std::string PseudoRandom(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&s[i], &x, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(x >> (i % 8));
  return s;
}

void WriteFile(const std::string& path, std::string_view data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> AwkwardNames(size_t count) {
  static const std::vector<std::string> kParts = {
      " ", "+", "%", "&", "?", "#", "=", "'",    "\"", ";", ",",   "[",   "]",    "{", "}",
      "~", "@", "!", "$", "(", ")", "ü", "日本", "é",  "🎉", "%20", "%2F", "+%2B", ":", "*"};
  std::vector<std::string> out;
  for (size_t i = 0; out.size() < count; ++i) {
    const std::string& a = kParts[i % kParts.size()];
    const std::string& b = kParts[(i * 7 + 3) % kParts.size()];
    std::string name = "awk" + std::to_string(i) + a + "x" + b + ".txt";
    if (i % 10 == 0) name = "deep/" + std::to_string(i) + "/a b/c+d/" + name;
    if (i % 13 == 0) name = "dir " + a + "/" + name;
    out.push_back(name);
  }
  return out;
}

std::map<std::string, std::string> AwsEnv(const S3Server& server) {
  return {{"AWS_ACCESS_KEY_ID", server.access_key},
          {"AWS_SECRET_ACCESS_KEY", server.secret_key},
          {"AWS_DEFAULT_REGION", server.region},
          {"AWS_REGION", server.region},
          {"AWS_CA_BUNDLE", ""},
          {"AWS_PAGER", ""},
          {"AWS_EC2_METADATA_DISABLED", "true"}};
}

CliRun Cloudkeep(const std::string& config, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {CK_CLI_PATH, "--config", config};
  argv.insert(argv.end(), args.begin(), args.end());
  return CliRun{RunCommand(argv, env, timeout)};
}

std::string WriteS3Config(const std::string& dir, const std::string& source, const S3Server& server,
                          const std::string& bucket, const std::string& dest_name,
                          const std::string& extra_dest_lines) {
  std::string path = dir + "/cloudkeep.toml";
  std::ostringstream c;
  c << "[state]\ndatabase = \"state.db\"\n\n"
    << "[[sources]]\npath = \"" << source << "\"\n\n"
    << "[destinations." << dest_name << "]\n"
    << "type = \"s3\"\nbucket = \"" << bucket << "\"\nprefix = \"host1/\"\n"
    << "region = \"" << server.region << "\"\nendpoint = \"" << server.endpoint << "\"\n"
    << "path_style = true\n"
    << extra_dest_lines << "\n";
  WriteFile(path, c.str());
  return path;
}

bool AwsDownload(const S3Server& server, const std::string& bucket, const std::string& prefix,
                 const std::string& dir) {
  auto r = RunCommand({"aws", "--endpoint-url", server.endpoint, "s3", "cp", "--recursive",
                       "--only-show-errors", "s3://" + bucket + "/" + prefix, dir},
                      AwsEnv(server), std::chrono::minutes(10));
  EXPECT_TRUE(r.ok()) << "aws s3 cp failed (" << r.exit_code << "): " << r.err << r.error;
  return r.ok();
}

std::map<std::string, uint64_t> ListTree(const std::string& root) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    out[fs::relative(e.path(), root).string()] = e.file_size();
  }
  return out;
}

int CountMultipartUploads(const S3Server& server, const std::string& bucket) {
  auto r = RunCommand({"aws", "--endpoint-url", server.endpoint, "s3api", "list-multipart-uploads",
                       "--bucket", bucket, "--output", "json"},
                      AwsEnv(server));
  EXPECT_TRUE(r.ok()) << r.err;
  if (!r.ok()) return -1;
  if (r.out.find_first_not_of(" \n\r\t") == std::string::npos) return 0;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.contains("Uploads") || j["Uploads"].is_null()) return 0;
  return static_cast<int>(j["Uploads"].size());
}

pid_t SpawnCloudkeep(const std::string& config, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env, const std::string& output) {
  std::vector<std::string> all = {CK_CLI_PATH, "--config", config};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, CK_CLI_PATH, &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "cannot start " << CK_CLI_PATH;
  return rc == 0 ? pid : -1;
}

int64_t QueryInt(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* st = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

uint64_t RequestCount(const std::string& output, const std::string& op) {
  std::regex re("(\\d+) " + op + "(,|\\s|$)");
  std::smatch m;
  auto pos = output.find("requests: ");
  if (pos == std::string::npos) return 0;
  std::string tail = output.substr(pos);
  tail = tail.substr(0, tail.find('\n'));
  if (std::regex_search(tail, m, re)) return std::stoull(m[1].str());
  return 0;
}

}  // namespace ck::test

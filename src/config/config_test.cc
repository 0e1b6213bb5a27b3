#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ck {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A valid source and a valid destination, appended after the lines a test is
// about, so that those keep their line numbers.
constexpr char kSourceA[] = "\n[[sources]]\npath = \"a\"\n";
constexpr char kDestD[] = "\n[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-1\"\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "ck_config_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::canonical(tmpl).string();
    for (const char* d : {"a/inner", "b", "c"}) fs::create_directories(dir_ + "/" + d);
    std::ofstream(dir_ + "/file.txt") << "x";
    fs::create_directory_symlink(dir_ + "/b", dir_ + "/link_to_b");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string ConfigPath() const { return dir_ + "/cloudkeep.toml"; }

  Result<Config> Parse(const std::string& text) {
    issues_.clear();
    return ParseConfig(text, ConfigPath(), &issues_);
  }

  std::vector<ConfigIssue> Errors() const { return Filter(true); }
  std::vector<ConfigIssue> Warnings() const { return Filter(false); }

  std::vector<ConfigIssue> Filter(bool error) const {
    std::vector<ConfigIssue> out;
    for (const ConfigIssue& i : issues_)
      if (i.error == error) out.push_back(i);
    return out;
  }

  // Every issue, one per line, for failure messages.
  std::string Dump() const {
    std::string out;
    for (const ConfigIssue& i : issues_) out += "  " + i.ToString() + "\n";
    return out;
  }

  // Succeeds when exactly one issue of the given severity is at `line` with key
  // `key` and a message containing `text`.
  ::testing::AssertionResult Has(bool error, int line, const std::string& key,
                                 const std::string& text) const {
    int matches = 0;
    for (const ConfigIssue& i : issues_) {
      if (i.error == error && i.line == line && i.key == key &&
          i.message.find(text) != std::string::npos) {
        ++matches;
      }
    }
    if (matches == 1) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << matches << " " << (error ? "errors" : "warnings") << " at line " << line
           << " with key '" << key << "' containing \"" << text << "\"; issues:\n"
           << Dump();
  }
  ::testing::AssertionResult HasError(int line, const std::string& key,
                                      const std::string& text) const {
    return Has(true, line, key, text);
  }
  ::testing::AssertionResult HasWarning(int line, const std::string& key,
                                        const std::string& text) const {
    return Has(false, line, key, text);
  }

  std::string dir_;
  std::vector<ConfigIssue> issues_;
};

TEST_F(ConfigTest, FullConfigParsesWithAllValues) {
  auto cfg = Parse(R"([state]
database = "state/ck.db"

[sync]
transfers = 6
multipart_threshold = "128MiB"
part_size = 33554432
max_attempts = 3
request_retries = 0

[log]
level = "debug"
file = "logs/ck.log"

[[sources]]
path = "a"
exclude = ["*.tmp", ".cache/**"]
prefix = "data"
follow_symlinks = true

[[sources]]
path = "b/"
prefix = "other/"

[destinations.zeta]
type = "s3"
bucket = "backups"
prefix = "host1/"
region = "eu-west-1"
endpoint = "http://127.0.0.1:9000/"
profile = "backup"
access_key_id_env = "MY_KEY_VAR"
secret_access_key_env = "MY_SECRET_VAR"
session_token_env = "MY_TOKEN_VAR"
transfers = 8
multipart_threshold = "256MiB"
part_size = "32MiB"
sign_payload = true

[destinations.alpha]
type = "b2"
enabled = false
bucket = "my-B2-bucket"
api_url = "https://api.example.com"
key_id_env = "MY_B2_ID"
application_key_env = "MY_B2_KEY"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString() << "\n" << Dump();
  // Only the unused profile is worth a warning.
  ASSERT_EQ(issues_.size(), 1u) << Dump();
  EXPECT_TRUE(HasWarning(31, "destinations.zeta.profile", "not used"));

  EXPECT_EQ(cfg->file, dir_ + "/cloudkeep.toml");
  EXPECT_EQ(cfg->database, dir_ + "/state/ck.db");
  EXPECT_EQ(cfg->sync.transfers, 6);
  EXPECT_EQ(cfg->sync.multipart_threshold, 128ull << 20);
  EXPECT_EQ(cfg->sync.part_size, 32ull << 20);
  EXPECT_EQ(cfg->sync.max_attempts, 3);
  EXPECT_EQ(cfg->sync.request_retries, 0);
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_EQ(cfg->log.file, dir_ + "/logs/ck.log");

  ASSERT_EQ(cfg->sources.size(), 2u);
  EXPECT_EQ(cfg->sources[0].path, dir_ + "/a");
  EXPECT_EQ(cfg->sources[0].exclude, (std::vector<std::string>{"*.tmp", ".cache/**"}));
  EXPECT_EQ(cfg->sources[0].prefix, "data/");  // '/' appended
  EXPECT_TRUE(cfg->sources[0].follow_symlinks);
  EXPECT_EQ(cfg->sources[1].path, dir_ + "/b");  // trailing '/' removed
  EXPECT_EQ(cfg->sources[1].prefix, "other/");
  EXPECT_FALSE(cfg->sources[1].follow_symlinks);

  // File order, not alphabetical.
  ASSERT_EQ(cfg->destinations.size(), 2u);
  const DestinationConfig& s3 = cfg->destinations[0];
  EXPECT_EQ(s3.name, "zeta");
  EXPECT_EQ(s3.type, "s3");
  EXPECT_TRUE(s3.enabled);
  EXPECT_EQ(s3.bucket, "backups");
  EXPECT_EQ(s3.prefix, "host1/");
  EXPECT_EQ(s3.region, "eu-west-1");
  EXPECT_EQ(s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_TRUE(s3.path_style);  // forced: IP address endpoint
  EXPECT_EQ(s3.profile, "backup");
  EXPECT_EQ(s3.access_key_id.env, "MY_KEY_VAR");
  EXPECT_EQ(s3.secret_access_key.env, "MY_SECRET_VAR");
  EXPECT_EQ(s3.session_token.env, "MY_TOKEN_VAR");
  EXPECT_TRUE(s3.access_key_id.inline_value.empty());
  EXPECT_EQ(s3.transfers, 8);
  EXPECT_EQ(s3.multipart_threshold, 256ull << 20);
  EXPECT_EQ(s3.part_size, 32ull << 20);
  EXPECT_TRUE(s3.sign_payload);

  const DestinationConfig& b2 = cfg->destinations[1];
  EXPECT_EQ(b2.name, "alpha");
  EXPECT_EQ(b2.type, "b2");
  EXPECT_FALSE(b2.enabled);
  EXPECT_EQ(b2.bucket, "my-B2-bucket");
  EXPECT_EQ(b2.api_url, "https://api.example.com");
  EXPECT_EQ(b2.key_id.env, "MY_B2_ID");
  EXPECT_EQ(b2.application_key.env, "MY_B2_KEY");
  EXPECT_EQ(b2.transfers, 0);  // inherits [sync]

  EXPECT_EQ(cfg->FindDestination("alpha"), &cfg->destinations[1]);
  EXPECT_EQ(cfg->FindDestination("zeta"), &cfg->destinations[0]);
  EXPECT_EQ(cfg->FindDestination("nope"), nullptr);
}

TEST_F(ConfigTest, MinimalConfigUsesDefaults) {
  auto cfg = Parse(R"([[sources]]
path = "a"
[destinations.d]
type = "s3"
bucket = "bucket-1"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_TRUE(issues_.empty()) << Dump();
  EXPECT_EQ(cfg->database, dir_ + "/cloudkeep.db");
  const SyncConfig defaults;
  EXPECT_EQ(cfg->sync.transfers, defaults.transfers);
  EXPECT_EQ(cfg->sync.multipart_threshold, defaults.multipart_threshold);
  EXPECT_EQ(cfg->sync.part_size, defaults.part_size);
  EXPECT_EQ(cfg->log.level, "info");
  EXPECT_EQ(cfg->log.file, "");
  ASSERT_EQ(cfg->sources.size(), 1u);
  EXPECT_EQ(cfg->sources[0].prefix, "");
  EXPECT_TRUE(cfg->sources[0].exclude.empty());
  ASSERT_EQ(cfg->destinations.size(), 1u);
  const DestinationConfig& d = cfg->destinations[0];
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.region, "us-east-1");
  EXPECT_EQ(d.endpoint, "");
  EXPECT_FALSE(d.path_style);
  EXPECT_FALSE(d.sign_payload);
  EXPECT_EQ(d.prefix, "");
  EXPECT_TRUE(d.access_key_id.empty());
  EXPECT_EQ(d.transfers, 0);
  EXPECT_EQ(d.part_size, 0u);
}

TEST_F(ConfigTest, AbsoluteSourcePathIsKept) {
  auto cfg = Parse("[[sources]]\npath = \"" + dir_ + "/c/\"\n" + kDestD);
  ASSERT_TRUE(cfg.ok()) << Dump();
  EXPECT_EQ(cfg->sources[0].path, dir_ + "/c");
}

TEST_F(ConfigTest, RelativeConfigPathIsMadeAbsolute) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir_);
  std::vector<ConfigIssue> issues;
  auto cfg = ParseConfig(std::string(kSourceA) + kDestD, "sub/../ck.toml", &issues);
  fs::current_path(old_cwd);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->file, dir_ + "/ck.toml");
  EXPECT_EQ(cfg->sources[0].path, dir_ + "/a");
  EXPECT_EQ(cfg->database, dir_ + "/cloudkeep.db");
}

TEST_F(ConfigTest, SyntaxErrorReportsTomlPosition) {
  auto cfg = Parse(R"([[sources]]
path = "a"
[destinations.d]
type = "s3"
bucket = "unterminated
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().kind(), ErrorKind::kConfig);
  ASSERT_EQ(issues_.size(), 1u) << Dump();
  EXPECT_EQ(issues_[0].line, 5);
  EXPECT_GT(issues_[0].column, 1);
  EXPECT_EQ(issues_[0].file, ConfigPath());
  EXPECT_THAT(issues_[0].message, HasSubstr("TOML syntax error"));
}

TEST_F(ConfigTest, DuplicateKeyIsASyntaxError) {
  auto cfg = Parse("[[sources]]\npath = \"a\"\npath = \"b\"\n");
  ASSERT_FALSE(cfg.ok());
  ASSERT_EQ(issues_.size(), 1u) << Dump();
  EXPECT_EQ(issues_[0].line, 3);
}

TEST_F(ConfigTest, UnknownKeysAreReportedWithSuggestions) {
  auto cfg = Parse(R"([stat]
database = "x.db"
[sync]
transfer = 4
[log]
levl = "info"
colour = true
[[sources]]
path = "a"
excludes = ["*.tmp"]
[destinations.d]
type = "s3"
bucke = "bucket-1"
api_url = "https://x.example.com"
[destinations.e]
type = "b2"
bucket = "bucket-b2"
region = "us-east-1"
prefix = "e/"
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(1, "stat", "unknown key 'stat'; did you mean 'state'?"));
  EXPECT_TRUE(HasError(4, "sync.transfer", "did you mean 'transfers'?"));
  EXPECT_TRUE(HasError(6, "log.levl", "did you mean 'level'?"));
  EXPECT_TRUE(HasError(7, "log.colour", "unknown key 'colour' (expected one of: level, file)"));
  EXPECT_TRUE(HasError(10, "sources[0].excludes", "did you mean 'exclude'?"));
  EXPECT_TRUE(HasError(13, "destinations.d.bucke", "did you mean 'bucket'?"));
  EXPECT_TRUE(HasError(11, "destinations.d.bucket", "missing required key 'bucket'"));
  EXPECT_TRUE(HasError(14, "destinations.d.api_url",
                       "'api_url' does not apply to a destination of type \"s3\""));
  EXPECT_TRUE(HasError(18, "destinations.e.region",
                       "'region' does not apply to a destination of type \"b2\""));
  EXPECT_EQ(Errors().size(), 9u) << Dump();
}

TEST_F(ConfigTest, UnknownKeyInInlineTableAndQuotedKeyPath) {
  auto cfg = Parse(R"([[sources]]
path = "a"
[destinations."my dest"]
type = "s3"
bucket = "bucket-1"
"odd key" = 1
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(3, "destinations.\"my dest\"", "invalid destination name"));
  EXPECT_TRUE(HasError(6, "destinations.\"my dest\".\"odd key\"", "unknown key 'odd key'"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, WrongTypesAreReported) {
  auto cfg = Parse(R"([state]
database = 5
[sync]
transfers = "4"
part_size = true
[log]
level = ["info"]
[[sources]]
path = 42
exclude = "*.tmp"
follow_symlinks = "yes"
prefix = "one/"
[[sources]]
path = "b"
exclude = ["ok", 7]
prefix = "two/"
[destinations.d]
type = "s3"
bucket = "bucket-1"
enabled = 1
transfers = 2.5
endpoint = { host = "x" }
sign_payload = "no"
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(2, "state.database", "expected a string, got an integer"));
  EXPECT_TRUE(HasError(4, "sync.transfers", "expected an integer, got a string"));
  EXPECT_TRUE(HasError(5, "sync.part_size",
                       "expected an integer (bytes) or a size string like \"64MiB\", got a "
                       "boolean"));
  EXPECT_TRUE(HasError(7, "log.level", "expected a string, got an array"));
  EXPECT_TRUE(HasError(9, "sources[0].path", "expected a string, got an integer"));
  EXPECT_TRUE(HasError(10, "sources[0].exclude", "expected an array of strings"));
  EXPECT_TRUE(HasError(11, "sources[0].follow_symlinks", "expected a boolean, got a string"));
  EXPECT_TRUE(HasError(15, "sources[1].exclude[1]", "expected a string, got an integer"));
  EXPECT_TRUE(HasError(20, "destinations.d.enabled", "expected a boolean, got an integer"));
  EXPECT_TRUE(HasError(21, "destinations.d.transfers", "expected an integer, got a float"));
  EXPECT_TRUE(HasError(22, "destinations.d.endpoint", "expected a string, got a table"));
  EXPECT_TRUE(HasError(23, "destinations.d.sign_payload", "expected a boolean, got a string"));
  EXPECT_EQ(Errors().size(), 12u) << Dump();
}

TEST_F(ConfigTest, SectionsOfTheWrongShape) {
  auto cfg = Parse(R"(state = "db"
log = 3
sources = ["a"]
destinations = [1]
[sync]
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(1, "state", "expected a table ([state]), got a string"));
  EXPECT_TRUE(HasError(2, "log", "expected a table ([log]), got an integer"));
  EXPECT_TRUE(HasError(3, "sources[0]", "expected a table, got a string"));
  EXPECT_TRUE(HasError(4, "destinations", "expected a table of destinations"));
  EXPECT_EQ(Errors().size(), 4u) << Dump();
}

TEST_F(ConfigTest, SourcesAsTableAndDestinationsAsArray) {
  auto cfg = Parse(R"([sources]
path = "a"
[[destinations]]
type = "s3"
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(1, "sources", "expected an array of tables ([[sources]]), got a table"));
  EXPECT_TRUE(HasError(3, "destinations", "got an array of tables"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, MissingSourcesAndDestinationsAreErrors) {
  auto cfg = Parse("[state]\ndatabase = \"x.db\"\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(0, "sources", "no [[sources]]"));
  EXPECT_TRUE(HasError(0, "destinations", "no destinations"));
  EXPECT_EQ(issues_.size(), 2u) << Dump();

  cfg = Parse("");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, EmptySourcesAndDestinationsAreErrors) {
  auto cfg = Parse("sources = []\ndestinations = {}\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(1, "sources", "no sources"));
  EXPECT_TRUE(HasError(2, "destinations", "no destinations"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, SourcePathMustBeAnExistingDirectory) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "missing"
prefix = "1/"
[[sources]]
path = "file.txt"
prefix = "2/"
[[sources]]
prefix = "3/"
[[sources]]
path = "~/docs"
prefix = "4/"
[[sources]]
path = ""
prefix = "5/"
[[sources]]
path = "c"
prefix = "6/"
)") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(
      HasError(2, "sources[0].path", "source directory " + dir_ + "/missing does not exist"));
  EXPECT_TRUE(HasError(5, "sources[1].path", dir_ + "/file.txt is not a directory"));
  EXPECT_TRUE(HasError(7, "sources[2].path", "missing required key 'path'"));
  EXPECT_TRUE(HasError(10, "sources[3].path", "'~' is not expanded"));
  EXPECT_TRUE(HasError(13, "sources[4].path", "must not be empty"));
  EXPECT_EQ(Errors().size(), 5u) << Dump();
}

TEST_F(ConfigTest, OverlappingSourcesAreErrors) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "a"
prefix = "1/"
[[sources]]
path = "./a/"
prefix = "2/"
[[sources]]
path = "link_to_b"
prefix = "3/"
[[sources]]
path = "b"
prefix = "4/"
[[sources]]
path = "c/../a/inner"
prefix = "5/"
)") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(5, "sources[1].path", "is the same directory as sources[0]"));
  // Real paths are compared: link_to_b is b.
  EXPECT_TRUE(HasError(11, "sources[3].path", "is the same directory as sources[2]"));
  EXPECT_TRUE(HasError(14, "sources[4].path", "is inside sources[0] (" + dir_ + "/a, line 2)"));
  EXPECT_TRUE(HasError(14, "sources[4].path", "is inside sources[1]"));
  EXPECT_EQ(Errors().size(), 4u) << Dump();
}

TEST_F(ConfigTest, SourceContainingAnEarlierSourceIsAnError) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "a/inner"
prefix = "1/"
[[sources]]
path = "."
prefix = "2/"
)") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(5, "sources[1].path", "contains sources[0]"));
  EXPECT_EQ(Errors().size(), 1u) << Dump();
}

TEST_F(ConfigTest, SourcesWithCollidingPrefixesAreErrors) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "a"
[[sources]]
path = "b"
)") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(3, "sources[1].prefix",
                       "sources[1] (" + dir_ + "/b) and sources[0] (" + dir_ +
                           "/a, line 1) have the same prefix \"\""));
  EXPECT_EQ(Errors().size(), 1u) << Dump();

  cfg = Parse(std::string(R"([[sources]]
path = "a"
prefix = "x/"
[[sources]]
path = "b"
prefix = "x/y"
[[sources]]
path = "c"
prefix = "/abs/"
)") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(6, "sources[1].prefix",
                       "prefix \"x/y/\" of sources[1] (" + dir_ +
                           "/b) and prefix \"x/\" of "
                           "sources[0]"));
  EXPECT_TRUE(HasError(9, "sources[2].prefix", "must not start with '/'"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();

  // Distinct, non-nested prefixes are fine ("x/" and "xy/" do not nest).
  cfg = Parse(std::string(R"([[sources]]
path = "a"
prefix = "x"
[[sources]]
path = "b"
prefix = "xy/"
)") + kDestD);
  EXPECT_TRUE(cfg.ok()) << Dump();
}

TEST_F(ConfigTest, DestinationProblems) {
  auto cfg = Parse(R"([[sources]]
path = "a"
[destinations."bad name"]
type = "s3"
bucket = "bucket-1"
[destinations.notype]
bucket = "bucket-1"
[destinations.unknowntype]
type = "gcs"
bucket = "bucket-1"
[destinations.nobucket]
type = "s3"
[destinations.badbucket]
type = "s3"
bucket = "My_Bucket"
region = ""
endpoint = "ftp://host"
prefix = "/x"
[destinations.b2bucket]
type = "b2"
bucket = "b2-reserved"
api_url = "https://api.example.com/b2api/v2"
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(3, "destinations.\"bad name\"", "invalid destination name"));
  EXPECT_TRUE(HasError(6, "destinations.notype.type", "missing required key 'type'"));
  EXPECT_TRUE(HasError(9, "destinations.unknowntype.type", "unknown destination type \"gcs\""));
  EXPECT_TRUE(HasError(11, "destinations.nobucket.bucket", "missing required key 'bucket'"));
  EXPECT_TRUE(HasError(15, "destinations.badbucket.bucket",
                       "invalid bucket name \"My_Bucket\": may contain only lowercase letters"));
  EXPECT_TRUE(HasError(16, "destinations.badbucket.region", "must not be empty"));
  EXPECT_TRUE(
      HasError(17, "destinations.badbucket.endpoint", "must start with http:// or https://"));
  EXPECT_TRUE(HasError(18, "destinations.badbucket.prefix", "must not start with '/'"));
  EXPECT_TRUE(HasError(21, "destinations.b2bucket.bucket", "must not start with \"b2-\""));
  EXPECT_TRUE(HasError(22, "destinations.b2bucket.api_url", "must not contain a path"));
  EXPECT_EQ(Errors().size(), 10u) << Dump();
  // In file order.
  ASSERT_EQ(issues_.size(), 10u);
  EXPECT_EQ(issues_.front().line, 3);
  EXPECT_EQ(issues_.back().line, 22);
}

TEST_F(ConfigTest, DestinationNamesMayUseLettersDigitsUnderscoreAndHyphen) {
  auto cfg =
      Parse(std::string(kSourceA) + "[destinations.My_Dest-2]\ntype = \"s3\"\nbucket = \"b-1\"\n");
  ASSERT_TRUE(cfg.ok()) << Dump();
  EXPECT_NE(cfg->FindDestination("My_Dest-2"), nullptr);
}

// Parses a destination with `line` (line 6 of the file) added; returns the
// errors' messages at that line.
class DestinationLineTest : public ConfigTest {
 protected:
  std::vector<std::string> ErrorsFor(const std::string& type, const std::string& line,
                                     Result<Config>* out = nullptr) {
    std::string bucket = type == "b2" ? "bucket = \"bucket-b2\"" : "bucket = \"bucket-1\"";
    if (line.rfind("bucket", 0) == 0) bucket = "# no default bucket";
    auto cfg = Parse("[[sources]]\npath = \"a\"\n[destinations.d]\ntype = \"" + type + "\"\n" +
                     bucket + "\n" + line + "\n");
    std::vector<std::string> messages;
    for (const ConfigIssue& i : Errors()) {
      EXPECT_EQ(i.line, 6) << i.ToString();
      messages.push_back(i.message);
    }
    if (out != nullptr) *out = std::move(cfg);
    return messages;
  }
};

TEST_F(DestinationLineTest, S3BucketNames) {
  for (const std::string& good :
       std::vector<std::string>{"abc", "a.b-c", "my-bucket.2024", std::string(63, 'a')}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(ErrorsFor("s3", "bucket = \"" + good + "\"").empty()) << Dump();
  }
  const std::pair<std::string, std::string> bad[] = {
      {"ab", "3 to 63 characters"},
      {std::string(64, 'a'), "3 to 63 characters"},
      {"", "must not be empty"},
      {"Abc", "lowercase"},
      {"a_b", "lowercase"},
      {"-abc", "start and end with a letter or digit"},
      {"abc.", "start and end with a letter or digit"},
      {"a..b", "\"..\""},
      {"192.168.1.1", "IP address"},
  };
  for (const auto& [name, why] : bad) {
    SCOPED_TRACE(name);
    EXPECT_THAT(ErrorsFor("s3", "bucket = \"" + name + "\""),
                ::testing::ElementsAre(HasSubstr(why)));
  }
}

TEST_F(DestinationLineTest, B2BucketNames) {
  for (const std::string& good :
       std::vector<std::string>{"my-B2-bucket", "abcdef", std::string(50, 'x')}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(ErrorsFor("b2", "bucket = \"" + good + "\"").empty()) << Dump();
  }
  const std::pair<std::string, std::string> bad[] = {
      {"short", "6 to 50 characters"},
      {std::string(51, 'x'), "6 to 50 characters"},
      {"my.bucket", "letters, digits and '-'"},
      {"B2-bucket", "b2-"},
  };
  for (const auto& [name, why] : bad) {
    SCOPED_TRACE(name);
    EXPECT_THAT(ErrorsFor("b2", "bucket = \"" + name + "\""),
                ::testing::ElementsAre(HasSubstr(why)));
  }
}

TEST_F(DestinationLineTest, Endpoints) {
  const std::tuple<std::string, std::string, bool> good[] = {
      {"https://s3.example.com", "https://s3.example.com", false},
      {"HTTPS://minio.internal:9000/", "https://minio.internal:9000", false},
      {"http://127.0.0.1:9000", "http://127.0.0.1:9000", true},
      {"http://[::1]:9000", "http://[::1]:9000", true},
      {"http://localhost:9000", "http://localhost:9000", true},
  };
  for (const auto& [url, normalized, path_style] : good) {
    SCOPED_TRACE(url);
    Result<Config> cfg = Status(ErrorKind::kInternal, "unset");
    EXPECT_TRUE(ErrorsFor("s3", "endpoint = \"" + url + "\"", &cfg).empty()) << Dump();
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->destinations[0].endpoint, normalized);
    EXPECT_EQ(cfg->destinations[0].path_style, path_style);
  }
  const std::pair<std::string, std::string> bad[] = {
      {"127.0.0.1:9000", "http:// or https://"},
      {"http://host/path", "must not contain a path"},
      {"http://host//", "must not contain a path"},
      {"http://host?x=1", "query"},
      {"http://", "no host"},
      {"http://:9000", "no host"},
      {"http://host:", "empty port"},
      {"http://host:0", "invalid port"},
      {"http://host:65536", "invalid port"},
      {"http://host:9x", "invalid port"},
      {"http://user@host", "user information"},
      {"http://[::1", "unterminated"},
      {"http://[nope]:1", "IPv6"},
      {"http://ho st", "invalid host name"},
      {"http://a..b", "invalid host name"},
  };
  for (const auto& [url, why] : bad) {
    SCOPED_TRACE(url);
    EXPECT_THAT(ErrorsFor("s3", "endpoint = \"" + url + "\""),
                ::testing::ElementsAre(HasSubstr(why)));
  }
}

TEST_F(DestinationLineTest, PathStyleFalseWithIpEndpointIsAWarning) {
  Result<Config> cfg = Status(ErrorKind::kInternal, "unset");
  auto text = std::string(R"([[sources]]
path = "a"
[destinations.d]
type = "s3"
bucket = "bucket-1"
path_style = false
endpoint = "http://10.0.0.1:9000"
)");
  cfg = Parse(text);
  ASSERT_TRUE(cfg.ok()) << Dump();
  EXPECT_TRUE(cfg->destinations[0].path_style);
  EXPECT_TRUE(HasWarning(6, "destinations.d.path_style", "ignored"));
}

TEST_F(DestinationLineTest, RegionAndTransferSettings) {
  EXPECT_THAT(ErrorsFor("s3", "region = \"us east\""),
              ::testing::ElementsAre(HasSubstr("invalid region \"us east\"")));
  EXPECT_TRUE(ErrorsFor("s3", "region = \"garage\"").empty());
  EXPECT_THAT(ErrorsFor("s3", "transfers = 0"),
              ::testing::ElementsAre("must be between 1 and 64, got 0"));
  EXPECT_THAT(ErrorsFor("b2", "transfers = 65"),
              ::testing::ElementsAre("must be between 1 and 64, got 65"));
  EXPECT_TRUE(ErrorsFor("s3", "transfers = 64").empty());
  EXPECT_THAT(ErrorsFor("s3", "part_size = \"4MiB\""),
              ::testing::ElementsAre("must be between 5MiB and 5GiB, got 4MiB"));
  EXPECT_THAT(ErrorsFor("s3", "part_size = 5000000"),
              ::testing::ElementsAre(HasSubstr("got 5000000 bytes (4.8 MiB)")));
  EXPECT_TRUE(ErrorsFor("s3", "part_size = \"5MiB\"").empty());
  EXPECT_TRUE(ErrorsFor("s3", "part_size = \"5GiB\"").empty());
  EXPECT_THAT(ErrorsFor("s3", "part_size = \"5.5GiB\""),
              ::testing::ElementsAre(HasSubstr("got 5632MiB")));
  EXPECT_THAT(ErrorsFor("s3", "multipart_threshold = \"1MiB\""),
              ::testing::ElementsAre(HasSubstr("between 5MiB and 5GiB")));
  EXPECT_THAT(ErrorsFor("s3", "multipart_threshold = -5"),
              ::testing::ElementsAre("must not be negative, got -5"));
  EXPECT_THAT(ErrorsFor("s3", "multipart_threshold = \"lots\""),
              ::testing::ElementsAre(HasSubstr("invalid size \"lots\"")));
}

TEST_F(ConfigTest, SyncAndLogRanges) {
  auto cfg = Parse(std::string(R"([sync]
transfers = 0
multipart_threshold = "1MiB"
part_size = "6GiB"
max_attempts = 0
request_retries = -1
[log]
level = "verbose"
)") + kSourceA + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(2, "sync.transfers", "must be between 1 and 64, got 0"));
  EXPECT_TRUE(HasError(3, "sync.multipart_threshold", "must be between 5MiB and 5GiB, got 1MiB"));
  EXPECT_TRUE(HasError(4, "sync.part_size", "must be between 5MiB and 5GiB, got 6GiB"));
  EXPECT_TRUE(HasError(5, "sync.max_attempts", "must be between 1 and 1000, got 0"));
  EXPECT_TRUE(HasError(6, "sync.request_retries", "must be between 0 and 100, got -1"));
  EXPECT_TRUE(HasError(8, "log.level", "unknown log level \"verbose\""));
  EXPECT_EQ(Errors().size(), 6u) << Dump();

  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    cfg = Parse(std::string("[log]\nlevel = \"") + level + "\"\n" + kSourceA + kDestD);
    ASSERT_TRUE(cfg.ok()) << Dump();
    EXPECT_EQ(cfg->log.level, level);
  }
}

TEST_F(ConfigTest, EmptyExcludePatternIsAnError) {
  auto cfg =
      Parse(std::string("[[sources]]\npath = \"a\"\nexclude = [\"*.tmp\", \"\"]\n") + kDestD);
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(3, "sources[0].exclude[1]", "must not be empty"));
  EXPECT_EQ(Errors().size(), 1u) << Dump();
}

TEST_F(ConfigTest, EveryErrorInOneFileIsReported) {
  auto cfg = Parse(R"([state]
databse = "x.db"
[[sources]]
path = "nowhere"
[log]
level = "loud"
[destinations.d]
type = "s3"
[destinations.e]
type = "b2"
bucket = 17
)");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(2, "state.databse", "did you mean 'database'?"));
  EXPECT_TRUE(HasError(4, "sources[0].path", "does not exist"));
  EXPECT_TRUE(HasError(6, "log.level", "unknown log level"));
  EXPECT_TRUE(HasError(7, "destinations.d.bucket", "missing required key 'bucket'"));
  EXPECT_TRUE(HasError(11, "destinations.e.bucket", "expected a string, got an integer"));
  ASSERT_EQ(Errors().size(), 5u) << Dump();
  // Reported in file order.
  std::vector<int> lines;
  for (const ConfigIssue& i : issues_) lines.push_back(i.line);
  EXPECT_EQ(lines, (std::vector<int>{2, 4, 6, 7, 11}));
  EXPECT_EQ(cfg.status().kind(), ErrorKind::kConfig);
  EXPECT_THAT(cfg.status().message(), HasSubstr("5 errors"));
  // The summary names the first error in file order.
  EXPECT_THAT(cfg.status().message(),
              HasSubstr(ConfigPath() + ": 5 errors (first at line 2: state.databse: unknown key "
                                       "'databse'; did you mean 'database'?)"));
}

TEST_F(ConfigTest, WholeFileIssuesComeLast) {
  auto cfg = Parse("[destinations.d]\ntype = \"s3\"\n");
  ASSERT_FALSE(cfg.ok());
  ASSERT_EQ(issues_.size(), 2u) << Dump();
  EXPECT_EQ(issues_[0].line, 1);
  EXPECT_EQ(issues_[0].key, "destinations.d.bucket");
  EXPECT_EQ(issues_[1].line, 0);
  EXPECT_EQ(issues_[1].key, "sources");
  EXPECT_THAT(cfg.status().message(), HasSubstr("2 errors"));
  EXPECT_THAT(cfg.status().message(), HasSubstr("destinations.d.bucket"));
}

TEST_F(ConfigTest, InlineCredentialsAreWarningsWithoutTheirValues) {
  const std::string key_id = "AKIAINLINEKEY0000000";
  const std::string secret = "inlineSECRETvalue/abc+xyz";
  auto cfg = Parse(R"([[sources]]
path = "a"
[destinations.d]
type = "s3"
bucket = "bucket-1"
access_key_id = ")" +
                   key_id + R"("
secret_access_key = ")" +
                   secret + R"("
[destinations.e]
type = "b2"
bucket = "my-b2-bucket"
key_id = "0012345678900000000000001"
application_key = "K001b2SECRETb2SECRET"
)");
  ASSERT_TRUE(cfg.ok()) << Dump();
  EXPECT_TRUE(Errors().empty()) << Dump();
  EXPECT_TRUE(HasWarning(6, "destinations.d.access_key_id",
                         "inline credential in config file; prefer access_key_id_env"));
  EXPECT_TRUE(HasWarning(7, "destinations.d.secret_access_key",
                         "inline secret in config file; prefer secret_access_key_env"));
  EXPECT_TRUE(HasWarning(11, "destinations.e.key_id", "prefer key_id_env"));
  EXPECT_TRUE(HasWarning(12, "destinations.e.application_key",
                         "inline secret in config file; prefer application_key_env"));
  EXPECT_EQ(Warnings().size(), 4u) << Dump();
  EXPECT_EQ(cfg->destinations[0].access_key_id.inline_value, key_id);
  EXPECT_EQ(cfg->destinations[0].secret_access_key.inline_value, secret);
  EXPECT_EQ(cfg->destinations[1].application_key.inline_value, "K001b2SECRETb2SECRET");
  for (const ConfigIssue& i : issues_) {
    EXPECT_THAT(i.ToString(), Not(HasSubstr(secret)));
    EXPECT_THAT(i.ToString(), Not(HasSubstr(key_id)));
    EXPECT_THAT(i.ToString(), Not(HasSubstr("SECRET")));
  }
}

TEST_F(ConfigTest, SecretsNeverAppearInMessages) {
  const std::string secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
  const std::vector<std::string> texts = {
      // A secret where an environment variable name belongs.
      "[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-1\"\naccess_key_id_env = \"K\"\n"
      "secret_access_key_env = \"" +
          secret + "/+\"\n",
      // A secret under a misspelt key.
      "[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-1\"\nsecret_acces_key = \"" + secret +
          "\"\n",
      // A secret under a key of the other destination type.
      "[destinations.d]\ntype = \"b2\"\nbucket = \"bucket-b2\"\nsecret_access_key = \"" + secret +
          "\"\n",
      // A secret given as the wrong type, or inline but empty elsewhere.
      "[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-1\"\naccess_key_id = [\"" + secret +
          "\"]\nsecret_access_key = \"\"\n",
      // Syntax errors on a secret's line.
      "[destinations.d]\ntype = \"s3\"\nsecret_access_key = \"" + secret + "\\q\"\n",
      "[destinations.d]\ntype = \"s3\"\nsecret_access_key = " + secret + "\n",
      "[destinations.d]\ntype = \"s3\"\nsecret_access_key = \"" + secret + "\n",
      "[destinations.d]\ntype = \"s3\"\nsecret_access_key = '" + secret + "'x\n",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    auto cfg = Parse(std::string(kSourceA) + text);
    ASSERT_FALSE(cfg.ok()) << Dump();
    EXPECT_FALSE(Errors().empty());
    EXPECT_THAT(cfg.status().message(), Not(HasSubstr(secret.substr(0, 12))));
    for (const ConfigIssue& i : issues_)
      EXPECT_THAT(i.ToString(), Not(HasSubstr(secret.substr(0, 12))));
  }
}

TEST_F(ConfigTest, CredentialEnvNamesAreValidated) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "a"
[destinations.d]
type = "s3"
bucket = "bucket-1"
access_key_id_env = "1BAD"
secret_access_key_env = "GOOD_NAME"
)"));
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(6, "destinations.d.access_key_id_env",
                       "expected the name of an environment variable"));
  // The invalid name is dropped, so only the secret is configured.
  EXPECT_TRUE(HasError(3, "destinations.d", "secret_access_key is configured but access_key_id"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, S3CredentialsMustBeConfiguredInPairs) {
  auto cfg = Parse(std::string(R"([[sources]]
path = "a"
[destinations.onlykey]
type = "s3"
bucket = "bucket-1"
access_key_id_env = "MY_KEY"
[destinations.onlytoken]
type = "s3"
bucket = "bucket-1"
session_token_env = "MY_TOKEN"
[destinations.both]
type = "s3"
bucket = "bucket-1"
access_key_id_env = "MY_KEY"
secret_access_key_env = "MY_SECRET"
)"));
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(HasError(3, "destinations.onlykey",
                       "access_key_id is configured but secret_access_key is not"));
  EXPECT_TRUE(HasError(7, "destinations.onlytoken", "session_token is configured without"));
  EXPECT_EQ(Errors().size(), 2u) << Dump();
}

TEST_F(ConfigTest, AllDestinationsDisabledIsAWarning) {
  auto cfg = Parse(std::string(kSourceA) +
                   "[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-1\"\nenabled = false\n");
  ASSERT_TRUE(cfg.ok()) << Dump();
  EXPECT_TRUE(HasWarning(4, "destinations", "every destination has enabled = false"));
  EXPECT_EQ(issues_.size(), 1u) << Dump();
}

TEST_F(ConfigTest, StarterConfigParsesWithoutIssues) {
  std::string text = StarterConfig();
  const std::string placeholder = "path = \"/home/me/Documents\"";
  const size_t at = text.find(placeholder);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, placeholder.size(), "path = \"" + dir_ + "/a\"");
  auto cfg = Parse(text);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString() << "\n" << Dump();
  EXPECT_TRUE(issues_.empty()) << Dump();
  ASSERT_EQ(cfg->sources.size(), 1u);
  EXPECT_EQ(cfg->sources[0].path, dir_ + "/a");
  ASSERT_EQ(cfg->destinations.size(), 2u);
  EXPECT_EQ(cfg->destinations[0].name, "aws-s3");
  EXPECT_EQ(cfg->destinations[0].type, "s3");
  EXPECT_TRUE(cfg->destinations[0].enabled);
  EXPECT_EQ(cfg->destinations[1].name, "backblaze-b2");
  EXPECT_EQ(cfg->destinations[1].type, "b2");
  EXPECT_FALSE(cfg->destinations[1].enabled);
  EXPECT_EQ(cfg->database, dir_ + "/cloudkeep.db");

  // It explains where credentials come from.
  for (const char* var :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
        "B2_APPLICATION_KEY_ID", "B2_APPLICATION_KEY"}) {
    EXPECT_THAT(StarterConfig(), HasSubstr(var));
  }
}

TEST_F(ConfigTest, StarterConfigCommentedExamplesAreValid) {
  // Uncommenting every "# key = value" example must give a valid file.
  std::string text = StarterConfig();
  text.replace(text.find("/home/me/Documents"), std::string("/home/me/Documents").size(),
               dir_ + "/a");
  std::string uncommented;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    // "# key = value" with a lowercase key becomes "key = value".
    const size_t eq = line.find(" = ");
    const bool example = line.rfind("# ", 0) == 0 && eq != std::string::npos && eq > 2 &&
                         line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", 2) == eq;
    uncommented += (example ? line.substr(2) : line) + "\n";
  }
  ASSERT_NE(uncommented, text);
  auto cfg = Parse(uncommented);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString() << "\n" << Dump();
  EXPECT_TRUE(Errors().empty()) << Dump();
  const DestinationConfig* s3 = cfg->FindDestination("aws-s3");
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(s3->access_key_id.env, "MY_S3_ACCESS_KEY_ID");
  EXPECT_EQ(s3->part_size, 32ull << 20);
  const DestinationConfig* b2 = cfg->FindDestination("backblaze-b2");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->application_key.env, "MY_B2_APPLICATION_KEY");
}

TEST_F(ConfigTest, LoadConfigReadsTheFile) {
  std::ofstream(ConfigPath()) << kSourceA << kDestD;
  std::vector<ConfigIssue> issues;
  auto cfg = LoadConfig(ConfigPath(), &issues);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(cfg->file, ConfigPath());
  EXPECT_EQ(cfg->sources[0].path, dir_ + "/a");

  // Issues carry the file name; a null issues pointer is allowed.
  std::ofstream(ConfigPath()) << "[[sources]]\npath = 1\n";
  cfg = LoadConfig(ConfigPath(), &issues);
  ASSERT_FALSE(cfg.ok());
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].file, ConfigPath());
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_FALSE(LoadConfig(ConfigPath(), nullptr).ok());
}

TEST_F(ConfigTest, LoadConfigOfAMissingFileIsAConfigError) {
  std::vector<ConfigIssue> issues;
  auto cfg = LoadConfig(dir_ + "/nope.toml", &issues);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().kind(), ErrorKind::kConfig);
  EXPECT_THAT(cfg.status().message(), HasSubstr(dir_ + "/nope.toml"));
  EXPECT_THAT(cfg.status().message(), HasSubstr("No such file or directory"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 0);

  cfg = LoadConfig(dir_, &issues);  // a directory
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().kind(), ErrorKind::kConfig);
}

TEST(ConfigIssueTest, ToStringFormats) {
  ConfigIssue i;
  i.file = "/etc/ck.toml";
  i.line = 12;
  i.column = 3;
  i.key = "destinations.d.bucket";
  i.message = "missing";
  EXPECT_EQ(i.ToString(), "/etc/ck.toml:12:3: error: destinations.d.bucket: missing");
  i.error = false;
  i.column = 0;
  EXPECT_EQ(i.ToString(), "/etc/ck.toml:12: warning: destinations.d.bucket: missing");
  i.line = 0;
  i.key = "";
  i.error = true;
  EXPECT_EQ(i.ToString(), "/etc/ck.toml: error: missing");
}

TEST(ParseByteSizeTest, AcceptsIntegersDecimalsAndUnits) {
  EXPECT_EQ(ParseByteSize("64MiB"), 64ull << 20);
  EXPECT_EQ(ParseByteSize("64 MiB"), 64ull << 20);
  EXPECT_EQ(ParseByteSize(" 64mib "), 64ull << 20);
  EXPECT_EQ(ParseByteSize("16MB"), 16000000u);
  EXPECT_EQ(ParseByteSize("5000000"), 5000000u);
  EXPECT_EQ(ParseByteSize("0"), 0u);
  EXPECT_EQ(ParseByteSize("7B"), 7u);
  EXPECT_EQ(ParseByteSize("1KB"), 1000u);
  EXPECT_EQ(ParseByteSize("1kib"), 1024u);
  EXPECT_EQ(ParseByteSize("1GiB"), 1ull << 30);
  EXPECT_EQ(ParseByteSize("2GB"), 2000000000u);
  EXPECT_EQ(ParseByteSize("3TB"), 3000000000000u);
  EXPECT_EQ(ParseByteSize("2TiB"), 2ull << 40);
  EXPECT_EQ(ParseByteSize("1.5GiB"), 3ull << 29);
  EXPECT_EQ(ParseByteSize("0.5KiB"), 512u);
  EXPECT_EQ(ParseByteSize("1.25 MB"), 1250000u);
  EXPECT_EQ(ParseByteSize("0.0001KiB"), 0u);  // 0.1024 bytes rounds to 0
  EXPECT_EQ(ParseByteSize("0.0005KiB"), 1u);  // 0.512 bytes rounds to 1
  EXPECT_EQ(ParseByteSize("18446744073709551615"), UINT64_MAX);
}

TEST(ParseByteSizeTest, RejectsMalformedSizes) {
  for (const char* bad : {"",
                          " ",
                          "MiB",
                          "-1MiB",
                          "+1MiB",
                          "1.5",
                          "1.5B",
                          "1e6",
                          "1 XB",
                          "1M",
                          "1 K",
                          "1.MiB",
                          ".5MiB",
                          "1..5MiB",
                          "1,5MiB",
                          "1 MiB extra",
                          "0x10",
                          "18446744073709551616",
                          "20000000TiB",
                          "1.0000000000000000001GiB"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseByteSize(bad), std::nullopt);
  }
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {
TEST(ConfigExcludeTest, BadGlobPatternIsReportedWithItsLine) {
  std::vector<ConfigIssue> issues;
  auto cfg = ParseConfig(
      "[[sources]]\npath = \"/tmp\"\nexclude = [\"ok/*\", \"[unclosed\"]\n\n"
      "[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-name\"\n",
      "/etc/x.toml", &issues);
  EXPECT_FALSE(cfg.ok());
  bool found = false;
  for (const auto& i : issues)
    if (i.key == "sources[0].exclude[1]" && i.line == 3) found = true;
  EXPECT_TRUE(found) << (issues.empty() ? "" : issues[0].ToString());
}
}  // namespace
}  // namespace ck

namespace ck {
namespace {
TEST(ConfigServerTest, DefaultsAndValidation) {
  std::vector<ConfigIssue> issues;
  const std::string base =
      "[[sources]]\npath = \"/tmp\"\n\n[destinations.d]\ntype = \"s3\"\nbucket = \"bucket-name\"\n";
  auto ok = ParseConfig(base, "/etc/ck/x.toml", &issues);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(ok->server.token_file, "/etc/ck/cloudkeep.token");
  EXPECT_EQ(ok->server.reconcile_interval_s, 900);
  EXPECT_EQ(ok->server.health_check_interval_s, 1);
  EXPECT_EQ(ok->server.list_parallelism, 4);

  issues.clear();
  auto set = ParseConfig(base +
                             "\n[server]\nlisten = \"0.0.0.0:9000\"\ntoken_file = \"t\"\n"
                             "scan_interval = 60\nreconcile_interval = 120\n"
                             "health_check_interval = 0\nlist_parallelism = 32\n",
                         "/etc/ck/x.toml", &issues);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(set->server.token_file, "/etc/ck/t");
  EXPECT_EQ(set->server.scan_interval_s, 60);
  EXPECT_EQ(set->server.reconcile_interval_s, 120);
  EXPECT_EQ(set->server.health_check_interval_s, 0);
  EXPECT_EQ(set->server.list_parallelism, 32);

  issues.clear();
  auto bad = ParseConfig(base + "\n[server]\nlisten = \"8080\"\ncert = \"c.pem\"\nport = 1\n",
                         "/etc/ck/x.toml", &issues);
  EXPECT_FALSE(bad.ok());
  std::string all;
  for (const auto& i : issues) all += i.ToString() + "\n";
  EXPECT_NE(all.find("server.listen"), std::string::npos) << all;
  EXPECT_NE(all.find("cert and key go together"), std::string::npos) << all;
  EXPECT_NE(all.find("port"), std::string::npos) << all;

  for (const char* value : {"0", "33", "\"4\""}) {
    issues.clear();
    auto range = ParseConfig(base + "\n[server]\nlist_parallelism = " + value + "\n",
                             "/etc/ck/x.toml", &issues);
    EXPECT_FALSE(range.ok()) << value;
    all.clear();
    for (const auto& i : issues) all += i.ToString() + "\n";
    EXPECT_NE(all.find("server.list_parallelism"), std::string::npos) << value << ": " << all;
  }
}
}  // namespace
}  // namespace ck

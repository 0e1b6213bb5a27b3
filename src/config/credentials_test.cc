#include "config/credentials.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ck {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Credentials must not be streamable by accident.
template <typename T>
concept Streamable = requires(std::ostream& os, const T& v) {
  os << v;
};
static_assert(!Streamable<S3Credentials>);
static_assert(!Streamable<B2Credentials>);
static_assert(Streamable<std::string>);  // the check itself works

constexpr char kEnvKey[] = "AKIAENVIRONMENT00001";
constexpr char kEnvSecret[] = "envSECRET/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kEnvToken[] = "envTOKEN+bbbbbbbbbbbbbbbbbbbb==";
constexpr char kFileKey[] = "AKIAFILEDEFAULT00001";
constexpr char kFileSecret[] = "fileSECRET/cccccccccccccccccccccccccccccc";
constexpr char kOtherKey[] = "AKIAFILEOTHER0000001";
constexpr char kOtherSecret[] = "otherSECRET/ddddddddddddddddddddddddddddd";
constexpr char kOtherToken[] = "otherTOKEN/eeeeeeeeeeee==";

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "ck_credentials_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
    fs::create_directories(home_ + "/.aws");
    env_["HOME"] = home_;
    dest_.name = "d";
    dest_.type = "s3";
  }
  void TearDown() override { fs::remove_all(home_); }

  GetEnvFn Env() {
    return [this](const std::string& name) {
      const auto it = env_.find(name);
      return it == env_.end() ? std::string() : it->second;
    };
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = home_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // ~/.aws/credentials with a default and an "other" profile.
  void WriteDefaultCredentialsFile() {
    WriteFile(".aws/credentials", std::string("[default]\naws_access_key_id = ") + kFileKey +
                                      "\naws_secret_access_key = " + kFileSecret +
                                      "\n\n[other]\naws_access_key_id = " + kOtherKey +
                                      "\naws_secret_access_key = " + kOtherSecret +
                                      "\naws_session_token = " + kOtherToken + "\n");
  }

  void SetAwsEnv() {
    env_["AWS_ACCESS_KEY_ID"] = kEnvKey;
    env_["AWS_SECRET_ACCESS_KEY"] = kEnvSecret;
    env_["AWS_SESSION_TOKEN"] = kEnvToken;
  }

  // Fails when `s` contains any secret (or token) used by these tests.
  static void ExpectNoSecrets(const std::string& s) {
    for (const char* secret : {kEnvSecret, kEnvToken, kFileSecret, kOtherSecret, kOtherToken,
                               "inlineSECRET", "mySECRET", "b2SECRET"}) {
      EXPECT_THAT(s, Not(HasSubstr(secret)));
    }
  }

  std::string home_;
  std::map<std::string, std::string> env_;
  DestinationConfig dest_;
};

TEST_F(CredentialsTest, ConfiguredVariablesWinOverEverythingElse) {
  SetAwsEnv();
  WriteDefaultCredentialsFile();
  env_["MY_KEY"] = "AKIACONFIGURED000001";
  env_["MY_SK"] = "mySECRET/ffffffffff";
  env_["MY_ST"] = "mySECRETtoken";
  dest_.access_key_id.env = "MY_KEY";
  dest_.secret_access_key.env = "MY_SK";
  dest_.session_token.env = "MY_ST";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIACONFIGURED000001");
  EXPECT_EQ(c->secret_access_key, "mySECRET/ffffffffff");
  EXPECT_EQ(c->session_token, "mySECRETtoken");
  EXPECT_THAT(c->origin, HasSubstr("environment variable MY_KEY"));
  EXPECT_THAT(c->origin, HasSubstr("MY_SK"));
}

TEST_F(CredentialsTest, ConfiguredVariableFallsBackToInlineValue) {
  dest_.access_key_id.env = "MY_KEY";
  dest_.access_key_id.inline_value = "AKIAINLINE0000000001";
  dest_.secret_access_key.inline_value = "inlineSECRET/x";
  env_["MY_KEY"] = "AKIAFROMVARIABLE0001";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAFROMVARIABLE0001");
  EXPECT_EQ(c->secret_access_key, "inlineSECRET/x");
  EXPECT_EQ(c->session_token, "");
  EXPECT_EQ(c->origin, "destination config: environment variable MY_KEY + config file");

  env_.erase("MY_KEY");
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIAINLINE0000000001");
  EXPECT_EQ(c->origin, "destination config: config file");
}

TEST_F(CredentialsTest, UnsetConfiguredVariableIsAnErrorWithoutFallingThrough) {
  SetAwsEnv();
  WriteDefaultCredentialsFile();
  env_["MY_KEY"] = "AKIACONFIGURED000001";
  dest_.access_key_id.env = "MY_KEY";
  dest_.secret_access_key.env = "MY_SK";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_EQ(c.status().message(),
            "missing credentials for destination d: environment variable MY_SK "
            "(secret_access_key_env) is not set");
  ExpectNoSecrets(c.status().message());

  // A configured session token variable must be set too.
  env_["MY_SK"] = "mySECRET";
  dest_.session_token.env = "MY_ST";
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("MY_ST (session_token_env) is not set"));
  ExpectNoSecrets(c.status().message());
}

TEST_F(CredentialsTest, StandardEnvironmentVariables) {
  WriteDefaultCredentialsFile();  // the environment wins over the file
  SetAwsEnv();
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, kEnvKey);
  EXPECT_EQ(c->secret_access_key, kEnvSecret);
  EXPECT_EQ(c->session_token, kEnvToken);
  EXPECT_EQ(c->origin, "environment");

  env_.erase("AWS_SESSION_TOKEN");
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->session_token, "");
}

TEST_F(CredentialsTest, HalfOfTheEnvironmentPairIsAnError) {
  WriteDefaultCredentialsFile();
  env_["AWS_ACCESS_KEY_ID"] = kEnvKey;
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(),
              HasSubstr("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));

  env_.erase("AWS_ACCESS_KEY_ID");
  env_["AWS_SECRET_ACCESS_KEY"] = kEnvSecret;
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
  ExpectNoSecrets(c.status().message());
}

TEST_F(CredentialsTest, SharedFileDefaultProfileUnderHome) {
  WriteDefaultCredentialsFile();
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, kFileKey);
  EXPECT_EQ(c->secret_access_key, kFileSecret);
  EXPECT_EQ(c->session_token, "");
  EXPECT_EQ(c->origin, "profile default in " + home_ + "/.aws/credentials");
}

TEST_F(CredentialsTest, AwsProfileSelectsTheProfile) {
  WriteDefaultCredentialsFile();
  env_["AWS_PROFILE"] = "other";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, kOtherKey);
  EXPECT_EQ(c->secret_access_key, kOtherSecret);
  EXPECT_EQ(c->session_token, kOtherToken);
}

TEST_F(CredentialsTest, ConfiguredProfileBeatsAwsProfileAndEnvironment) {
  WriteDefaultCredentialsFile();
  SetAwsEnv();
  env_["AWS_PROFILE"] = "default";
  dest_.profile = "other";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, kOtherKey);
  EXPECT_EQ(c->origin, "profile other in " + home_ + "/.aws/credentials");
}

TEST_F(CredentialsTest, SharedCredentialsFileVariableOverridesHome) {
  WriteDefaultCredentialsFile();
  const std::string custom = WriteFile("custom",
                                       "[default]\naws_access_key_id=AKIACUSTOM0000000001\n"
                                       "aws_secret_access_key=customSECRETvalue\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = custom;
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIACUSTOM0000000001");
  EXPECT_EQ(c->secret_access_key, "customSECRETvalue");
  EXPECT_EQ(c->origin, "profile default in " + custom);
}

TEST_F(CredentialsTest, IniSyntaxDetails) {
  WriteFile(".aws/credentials",
            "\xEF\xBB\xBF# leading comment\r\n"
            "; another comment\r\n"
            "\r\n"
            "[ other ]\r\n"
            "aws_access_key_id=AKIAOTHER\r\n"
            "[default]\r\n"
            "  AWS_Access_Key_Id   =   AKIADEFAULT0000000001  \r\n"
            "aws_secret_access_key = a/b+c=d\r\n"
            "aws_session_token: tok==\r\n"
            "s3 =\r\n"
            "    max_concurrent_requests = 20\r\n"
            "region = us-west-2\r\n");
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIADEFAULT0000000001");
  EXPECT_EQ(c->secret_access_key, "a/b+c=d");
  EXPECT_EQ(c->session_token, "tok==");
}

TEST_F(CredentialsTest, MalformedFileIsAConfigErrorWithoutItsContent) {
  WriteFile(".aws/credentials",
            std::string("[default]\naws_access_key_id = ") + kFileKey + "\n" + kFileSecret + "\n");
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kConfig);
  EXPECT_THAT(c.status().message(), HasSubstr(home_ + "/.aws/credentials, line 3"));
  ExpectNoSecrets(c.status().message());

  for (const char* bad : {"aws_access_key_id = x\n", "[default\n", "[]\n", "[default]\n= v\n"}) {
    SCOPED_TRACE(bad);
    WriteFile(".aws/credentials", bad);
    c = ResolveS3Credentials(dest_, Env());
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().kind(), ErrorKind::kConfig);
  }
}

TEST_F(CredentialsTest, ProfileWithOnlyHalfOfThePair) {
  WriteFile(".aws/credentials", std::string("[default]\naws_access_key_id = ") + kFileKey + "\n");
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(),
              HasSubstr("profile 'default' in " + home_ +
                        "/.aws/credentials has aws_access_key_id but no aws_secret_access_key"));
}

TEST_F(CredentialsTest, ExplicitProfileNotFound) {
  WriteDefaultCredentialsFile();
  dest_.profile = "nope";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(), HasSubstr("profile 'nope' (from the destination's profile) "
                                              "not found in " +
                                              home_ + "/.aws/credentials"));

  dest_.profile = "";
  env_["AWS_PROFILE"] = "gone";
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("profile 'gone' (from AWS_PROFILE) not found"));

  // A requested profile with no file at all.
  fs::remove(home_ + "/.aws/credentials");
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(), HasSubstr("profile 'gone' (from AWS_PROFILE) was requested"));
}

TEST_F(CredentialsTest, ExplicitSharedFileThatDoesNotExist) {
  env_["AWS_SHARED_CREDENTIALS_FILE"] = home_ + "/missing";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(),
              HasSubstr(home_ + "/missing (AWS_SHARED_CREDENTIALS_FILE) does not exist"));
}

TEST_F(CredentialsTest, MissingCredentialsNameWhatWasLookedFor) {
  // No variables, no file.
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(),
              HasSubstr("missing credentials for destination d: set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY, or create " +
                        home_ + "/.aws/credentials"));
  EXPECT_THAT(c.status().message(), HasSubstr("access_key_id_env"));

  // A file without the default profile.
  WriteFile(".aws/credentials", "[work]\naws_access_key_id = A\naws_secret_access_key = B\n");
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(), HasSubstr("missing credentials for destination d"));
  EXPECT_THAT(c.status().message(), HasSubstr("add a [default] profile"));

  // No HOME either.
  env_.erase("HOME");
  c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("HOME and AWS_SHARED_CREDENTIALS_FILE are unset"));
}

TEST_F(CredentialsTest, UnreadableCredentialsFileIsAConfigError) {
  // A directory where the file should be: open succeeds, read fails.
  fs::create_directories(home_ + "/dir");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = home_ + "/dir";
  auto c = ResolveS3Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kConfig);
  EXPECT_THAT(c.status().message(), HasSubstr("cannot read credentials file " + home_ + "/dir"));
}

TEST_F(CredentialsTest, B2DefaultVariables) {
  dest_.type = "b2";
  env_["B2_APPLICATION_KEY_ID"] = "0012345678900000000000001";
  env_["B2_APPLICATION_KEY"] = "K001b2SECRETvalue";
  auto c = ResolveB2Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->key_id, "0012345678900000000000001");
  EXPECT_EQ(c->application_key, "K001b2SECRETvalue");
  EXPECT_EQ(c->origin,
            "environment variable B2_APPLICATION_KEY_ID + environment variable "
            "B2_APPLICATION_KEY");
}

TEST_F(CredentialsTest, B2ConfiguredVariablesAndInlineValues) {
  dest_.type = "b2";
  env_["B2_APPLICATION_KEY_ID"] = "ignored-default-id";
  env_["B2_APPLICATION_KEY"] = "ignoredSECRET";
  env_["MY_B2_ID"] = "0012345678900000000000002";
  dest_.key_id.env = "MY_B2_ID";
  dest_.application_key.inline_value = "K001b2SECRETinline";
  auto c = ResolveB2Credentials(dest_, Env());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->key_id, "0012345678900000000000002");
  EXPECT_EQ(c->application_key, "K001b2SECRETinline");
  EXPECT_EQ(c->origin, "environment variable MY_B2_ID + config file");

  // A configured variable that is unset is an error, not a fall back to the default.
  env_.erase("MY_B2_ID");
  c = ResolveB2Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_EQ(c.status().message(),
            "missing credentials for destination d: environment variable MY_B2_ID (key_id_env) "
            "is not set");
}

TEST_F(CredentialsTest, B2MissingNamesTheDefaultVariables) {
  dest_.type = "b2";
  auto c = ResolveB2Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kAuth);
  EXPECT_THAT(c.status().message(), HasSubstr("missing credentials for destination d"));
  EXPECT_THAT(c.status().message(), HasSubstr("B2_APPLICATION_KEY_ID is not set"));
  EXPECT_THAT(c.status().message(), HasSubstr("B2_APPLICATION_KEY is not set"));

  env_["B2_APPLICATION_KEY_ID"] = "0012345678900000000000001";
  c = ResolveB2Credentials(dest_, Env());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), Not(HasSubstr("B2_APPLICATION_KEY_ID")));
  EXPECT_THAT(c.status().message(), HasSubstr("B2_APPLICATION_KEY is not set"));
}

TEST_F(CredentialsTest, RedactedShowsOnlyTheStartOfTheKeyId) {
  S3Credentials s3{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tokenvalue", "environment"};
  EXPECT_EQ(s3.Redacted(), "access key AKIA**** with session token (from environment)");
  EXPECT_EQ(::testing::PrintToString(s3), s3.Redacted());
  s3.session_token.clear();
  EXPECT_EQ(s3.Redacted(), "access key AKIA**** (from environment)");
  s3.access_key_id = "short";
  EXPECT_EQ(s3.Redacted(), "access key **** (from environment)");

  B2Credentials b2{"0012345678900000000000001", "K001secretkey", "config file"};
  EXPECT_EQ(b2.Redacted(), "key 0012**** (from config file)");
  EXPECT_EQ(::testing::PrintToString(b2), b2.Redacted());
  EXPECT_THAT(::testing::PrintToString(b2), Not(HasSubstr("secret")));
}

TEST(ProcessEnvTest, ReadsTheProcessEnvironment) {
  ASSERT_EQ(::setenv("CK_CREDENTIALS_TEST_VAR", "value-1", 1), 0);
  const GetEnvFn env = ProcessEnv();
  EXPECT_EQ(env("CK_CREDENTIALS_TEST_VAR"), "value-1");
  ::unsetenv("CK_CREDENTIALS_TEST_VAR");
  EXPECT_EQ(env("CK_CREDENTIALS_TEST_VAR"), "");
}

}  // namespace
}  // namespace ck

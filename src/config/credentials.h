// Resolution of S3 credentials following the AWS conventions, and of B2
// application keys.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "config/config.h"
#include "util/result.h"

namespace ck {

// Credential structs hold secrets: they have no operator<< (it is deleted, so
// `os << creds` does not compile) and no fmt formatter. Use Redacted() to show
// them; gtest's PrintTo prints the redacted form too.
struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // may be empty
  std::string origin;         // where they came from, e.g. "environment", "profile default"

  // "access key AKIA**** (from <origin>)": only the key id's first 4 characters
  // (none when the id is shorter than 8), never the secret or token.
  std::string Redacted() const;

  friend std::ostream& operator<<(std::ostream&, const S3Credentials&) = delete;
  friend void PrintTo(const S3Credentials& c, std::ostream* os);
};

struct B2Credentials {
  std::string key_id;
  std::string application_key;
  std::string origin;  // e.g. "environment variables B2_APPLICATION_KEY_ID, B2_APPLICATION_KEY"

  // "key 0012**** (from <origin>)"; never the application key.
  std::string Redacted() const;

  friend std::ostream& operator<<(std::ostream&, const B2Credentials&) = delete;
  friend void PrintTo(const B2Credentials& c, std::ostream* os);
};

// Reads an environment variable; returns "" when unset. Injected for tests.
using GetEnvFn = std::function<std::string(const std::string&)>;
// std::getenv. Thread-safe as long as nothing modifies the environment.
GetEnvFn ProcessEnv();

// Resolution order (the first source that applies wins; an empty variable counts
// as unset):
//  1. Credentials named in the destination config (access_key_id[_env],
//     secret_access_key[_env], session_token[_env]); for each, the variable named
//     by `*_env` when set, else the inline value. When the config names any of
//     them, resolution stops here: a variable that is unset is a kAuth error
//     naming it (falling back to other credentials could write to another
//     account).
//  2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, unless the
//     destination sets `profile` (an explicit profile beats the environment, as
//     with the AWS CLI's --profile). Only one of the pair set is a kAuth error.
//  3. The shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//     $HOME/.aws/credentials), profile from the config's `profile`, else
//     AWS_PROFILE, else "default". A missing file or profile is a kAuth error when
//     the file or profile was asked for explicitly; a profile with only one of
//     aws_access_key_id / aws_secret_access_key is a kAuth error.
// Returns kAuth "missing credentials for destination NAME: ..." naming what was
// looked for when none are found; kConfig when the credentials file is malformed
// or unreadable. Never puts a secret (or a line of the credentials file) in a
// message.
Result<S3Credentials> ResolveS3Credentials(const DestinationConfig& dest, const GetEnvFn& getenv);

// For a "b2" destination: the key id from the variable named by key_id_env, else
// the inline key_id, else B2_APPLICATION_KEY_ID when the config names neither;
// likewise the application key (application_key_env / application_key /
// B2_APPLICATION_KEY). Returns kAuth "missing credentials for destination NAME:
// ..." naming the variables looked for when either is missing. Never puts a
// secret in a message.
Result<B2Credentials> ResolveB2Credentials(const DestinationConfig& dest, const GetEnvFn& getenv);

}  // namespace ck

// Resolution of S3 credentials following the AWS conventions.
#pragma once

#include <functional>
#include <string>

#include "config/config.h"
#include "util/result.h"

namespace ck {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // may be empty
  std::string origin;         // where they came from, e.g. "environment", "profile default"
};

// Reads an environment variable; returns "" when unset. Injected for tests.
using GetEnvFn = std::function<std::string(const std::string&)>;
GetEnvFn ProcessEnv();

// Resolution order: names given in the destination config (env vars, then
// inline values), then AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
// then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials) with profile (config `profile`, AWS_PROFILE, "default").
// Returns kAuth "missing credentials: ..." naming what was looked for when none
// are found; kConfig when the credentials file is malformed. Never puts a secret
// in a message.
Result<S3Credentials> ResolveS3Credentials(const DestinationConfig& dest, const GetEnvFn& getenv);

}  // namespace ck

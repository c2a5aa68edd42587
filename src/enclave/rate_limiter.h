#pragma once

// The rate limit on attested sign replies (docs/PROTOCOL.md §2, "Attested replies"): each
// attested sign takes one token of a TokenBucket (src/common/token_bucket.h) before anything is
// signed; with none left the request is answered "busy" and nothing is signed, so a flood of
// attested requests cannot monopolise the NSM or the blocking pool (plain signing never takes a
// token).

#include "src/common/token_bucket.h"

namespace lockout::enclave {

using TokenBucket = ::lockout::TokenBucket;
using TokenBucketOptions = ::lockout::TokenBucketOptions;

}  // namespace lockout::enclave

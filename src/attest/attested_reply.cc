#include "src/attest/attested_reply.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/reply_binding.h"
#include "src/attest/verifier.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::attest {
namespace {

absl::Status BadFile(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("attested reply: ", Absl(what)));
}

}  // namespace

absl::StatusOr<AttestedReply> ParseAttestedReply(std::string_view text) {
  if (text.size() > kMaxAttestedReplyFile) {
    return BadFile(absl::StrCat("over ", kMaxAttestedReplyFile, " bytes"));
  }
  absl::StatusOr<nlohmann::json> doc = ParseJsonStrict(text, kMaxAttestedReplyFile);
  if (!doc.ok()) return BadFile(absl::StrCat("not JSON: ", doc.status().message()));
  if (!doc->is_object()) return BadFile("not a JSON object");
  for (auto it = doc->begin(); it != doc->end(); ++it) {
    const std::string& name = it.key();
    if (name != "format" && name != "request" && name != "signature" && name != "attestation") {
      return BadFile("unknown member (the members are format, request, signature and attestation)");
    }
  }
  auto format = doc->find("format");
  if (format == doc->end() || !format->is_string() ||
      format->get_ref<const std::string&>() != kAttestedReplyFormat) {
    return BadFile(absl::StrCat("\"format\" must be \"", Absl(kAttestedReplyFormat), "\""));
  }
  AttestedReply reply;
  auto request = doc->find("request");
  if (request == doc->end() || !request->is_object()) {
    return BadFile("\"request\" missing or not an object");
  }
  if (request->contains("id")) return BadFile("\"request\" must not carry \"id\"");
  if (auto op = request->find("op"); op == request->end() || *op != "sign") {
    return BadFile("\"request.op\" must be \"sign\"");
  }
  absl::StatusOr<std::optional<Bytes>> nonce = ParseAttestMember(*request);
  if (!nonce.ok()) return BadFile(absl::StrCat("request: ", nonce.status().message()));
  if (!nonce->has_value()) return BadFile("\"request\" has no \"attest\" member");
  reply.request = *request;
  auto signature = doc->find("signature");
  if (signature == doc->end() || !signature->is_string()) {
    return BadFile("\"signature\" missing or not a string");
  }
  absl::StatusOr<Bytes> sig = HexDecodeAllowPrefix(signature->get_ref<const std::string&>());
  if (!sig.ok() || sig->empty()) return BadFile("\"signature\" is not hex");
  reply.signature = *std::move(sig);
  auto attestation = doc->find("attestation");
  if (attestation == doc->end() || !attestation->is_string()) {
    return BadFile("\"attestation\" missing or not a string");
  }
  absl::StatusOr<Bytes> document = Base64Decode(attestation->get_ref<const std::string&>());
  if (!document.ok() || document->empty()) return BadFile("\"attestation\" is not base64");
  reply.attestation = *std::move(document);
  return reply;
}

std::string AttestedReplyToJson(const AttestedReply& reply) {
  nlohmann::ordered_json out;
  out["format"] = std::string(kAttestedReplyFormat);
  out["request"] = reply.request;
  out["signature"] = HexEncode(reply.signature);
  out["attestation"] = Base64Encode(reply.attestation);
  return out.dump();
}

std::string SpkiDerToPem(ByteView spki_der) {
  const std::string b64 = Base64Encode(spki_der);
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    pem.append(b64, i, 64);
    pem.push_back('\n');
  }
  pem += "-----END PUBLIC KEY-----\n";
  return pem;
}

AttestedReplyResult VerifyAttestedReply(const AttestedReply& reply, ByteView message,
                                        const AttestedReplyOptions& options) {
  AttestedReplyResult result;
  auto check = [&result](std::string name, bool ok, std::string detail) {
    if (!ok && result.failure.empty()) result.failure = absl::StrCat(name, ": ", detail);
    result.checks.push_back({std::move(name), ok, ok ? std::string() : std::move(detail)});
  };

  // message: the request is for this message.
  const absl::StatusOr<RequestDigest> digest = AttestedRequestDigest(reply.request);
  {
    auto m = reply.request.find("message");
    absl::StatusOr<Bytes> sent = m != reply.request.end() && m->is_string()
                                     ? Base64Decode(m->get_ref<const std::string&>())
                                     : absl::InvalidArgumentError("no message");
    if (!digest.ok()) {
      check("message", false,
            absl::StrCat("the request has no digest: ", digest.status().message()));
    } else {
      check("message", sent.ok() && *sent == Bytes(message.begin(), message.end()),
            "the request in the reply is for a different message than the one given");
    }
  }

  // document: parses and verifies to a trusted root.
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(reply.attestation);
  if (!doc.ok()) {
    check("document", false, absl::StrCat("does not parse: ", doc.status().message()));
  } else {
    result.document = *doc;
    const absl::Time at = options.at == absl::InfinitePast() ? absl::Now() : options.at;
    absl::StatusOr<VerifiedAttestation> verified =
        VerifyAttestation(*doc, options.trusted_roots, at);
    check("document", verified.ok(),
          absl::StrCat("does not verify: ", verified.status().message(),
                       " (a local-aws document needs --root-cert with its NSM root)"));
  }

  // pcrs
  for (const auto& [index, value] : options.expect_pcrs) {
    std::optional<Bytes> actual;
    if (doc.ok()) {
      if (auto it = doc->pcrs.find(index); it != doc->pcrs.end()) actual = it->second;
    }
    check(absl::StrCat("pcr", index), actual.has_value() && *actual == value,
          absl::StrCat("PCR", index, " is ", actual ? HexEncode(*actual) : std::string("absent"),
                       ", expected ", HexEncode(value)));
  }

  // nonce
  {
    absl::StatusOr<std::optional<Bytes>> sent = ParseAttestMember(reply.request);
    const bool have = doc.ok() && doc->nonce.has_value();
    bool ok = have && sent.ok() && sent->has_value() && *doc->nonce == **sent;
    std::string detail = "the document's nonce is not the request's attest nonce";
    if (ok && options.expect_nonce.has_value() && *doc->nonce != *options.expect_nonce) {
      ok = false;
      detail = "the document's nonce is not the expected nonce (--nonce)";
    }
    check("nonce", ok, detail);
  }

  // binding
  const bool have_key = doc.ok() && doc->public_key.has_value();
  {
    bool ok = false;
    std::string detail = "the document carries no public_key";
    if (have_key && digest.ok()) {
      const crypto::Sha256Digest expected =
          ReplyBinding(*digest, reply.signature, *doc->public_key);
      ok = doc->user_data.has_value() && *doc->user_data == Bytes(expected.begin(), expected.end());
      detail =
          "the document's user_data is not the binding of this request, signature and "
          "public_key (an altered request, signature or key)";
    } else if (have_key) {
      detail = "the request has no digest";
    }
    check("binding", ok, detail);
  }

  // signature
  {
    absl::Status s = absl::FailedPreconditionError("the document carries no public_key");
    if (have_key) {
      s = options.check_signature
              ? options.check_signature(*doc->public_key, message, reply.signature)
              : absl::InternalError("no signature check configured");
    }
    check("signature", s.ok(), std::string(s.message()));
  }
  return result;
}

nlohmann::ordered_json AttestedReplyResult::ToJson() const {
  nlohmann::ordered_json out;
  out["ok"] = ok();
  out["failure"] =
      failure.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(failure);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const AttestedReplyCheck& c : checks) {
    nlohmann::ordered_json item = {{"check", c.name}, {"ok", c.ok}};
    if (!c.ok) item["detail"] = c.detail;
    list.push_back(std::move(item));
  }
  out["checks"] = list;
  if (document.has_value()) {
    out["module_id"] = document->module_id;
    nlohmann::ordered_json pcrs = nlohmann::ordered_json::object();
    for (const auto& [index, value] : document->pcrs)
      pcrs[std::to_string(index)] = HexEncode(value);
    out["pcrs"] = pcrs;
    if (document->public_key) out["public_key_pem"] = SpkiDerToPem(*document->public_key);
  }
  return out;
}

}  // namespace lockout::attest

#include "src/localaws/nsm_service_ca.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/certificate.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::localaws {
namespace {

constexpr char kRootSubject[] = "CN=lockout-local-nitro-root,OU=lockout-local-nsm,O=lockout,C=US";
constexpr char kIntermediateSubject[] =
    "CN=lockout-local-nitro-intermediate,OU=lockout-local-nsm,O=lockout,C=US";
constexpr size_t kMaxPemFile = 64 * 1024;
constexpr absl::Duration kBackdate = absl::Hours(1);

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat("nsm ca: ", Absl(what), " ", path, ": ", std::strerror(err)));
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

absl::Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus("cannot create directory", dir, errno);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus("cannot stat", dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("nsm ca: ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

// Holds an exclusive flock on <dir>/ca.lock for its lifetime.
class DirectoryLock final {
 public:
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir) {
    const std::string path = dir + "/ca.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("cannot open", path, errno);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot lock", path, err);
    }
    return DirectoryLock(fd);
  }
  DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

absl::StatusOr<Bytes> ReadCertificate(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFileString(path, kMaxPemFile));
  absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPem(pem);
  if (!certs.ok() || certs->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("nsm ca: ", path, " does not hold exactly one PEM certificate"));
  }
  return std::move((*certs)[0]);
}

absl::StatusOr<crypto::EvpPkeyPtr> ReadPrivateKey(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes raw, ReadFile(path, kMaxPemFile));
  SecretBytes pem = SecretBytes::CopyFrom(raw);
  WipeBytes(raw);
  absl::StatusOr<crypto::EvpPkeyPtr> key = attest::PrivateKeyFromPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nsm ca: ", path, " does not hold a PEM private key"));
  }
  return key;
}

// Writes the key (0600) and then the certificate (0644) of `ca` under the given file names.
absl::Status WriteAuthority(const std::string& dir, const attest::CertAuthority& ca,
                            std::string_view key_file, std::string_view cert_file) {
  ASSIGN_OR_RETURN(SecretBytes key_pem, attest::PrivateKeyToPem(ca.key()));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", Absl(key_file)), key_pem.Reveal(), 0600));
  ASSIGN_OR_RETURN(std::string cert_pem, attest::CertificateToPem(ca.certificate()));
  return WriteFileAtomic(absl::StrCat(dir, "/", Absl(cert_file)), AsBytes(cert_pem), 0644);
}

// Loads the CA stored under key_file/cert_file: nullopt when neither file (or only the key: an
// interrupted creation) exists.
absl::StatusOr<std::optional<attest::CertAuthority>> LoadAuthority(const std::string& dir,
                                                                   std::string_view key_file,
                                                                   std::string_view cert_file) {
  const std::string key_path = absl::StrCat(dir, "/", Absl(key_file));
  const std::string cert_path = absl::StrCat(dir, "/", Absl(cert_file));
  if (!Exists(cert_path)) return std::optional<attest::CertAuthority>();
  if (!Exists(key_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm ca: ", cert_path, " exists but its key ", key_path,
                     " does not; restore the key or remove the directory to create a new CA"));
  }
  ASSIGN_OR_RETURN(Bytes cert, ReadCertificate(cert_path));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, ReadPrivateKey(key_path));
  absl::StatusOr<attest::CertAuthority> ca =
      attest::CertAuthority::FromKeyAndCertificate(std::move(key), std::move(cert));
  if (!ca.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm ca: ", cert_path, " and ", key_path,
                     " are not a CA certificate and its key: ", ca.status().message()));
  }
  return std::optional<attest::CertAuthority>(*std::move(ca));
}

// True if `intermediate` is signed by `root` and valid until at least now + renew_before.
bool IntermediateIsUsable(const attest::CertAuthority& intermediate,
                          const attest::CertAuthority& root, absl::Time now) {
  absl::StatusOr<crypto::X509Ptr> cert = attest::ParseCertificateDer(intermediate.certificate());
  if (!cert.ok()) return false;
  if (X509_verify(cert->get(), root.key()) != 1) {
    ERR_clear_error();
    return false;
  }
  absl::StatusOr<attest::CertificateSummary> summary =
      attest::SummarizeCertificate(intermediate.certificate());
  if (!summary.ok()) return false;
  return summary->not_before <= now && now + kIntermediateRenewBefore < summary->not_after;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NsmCertificateChain>> NsmCertificateChain::LoadOrCreate(
    const std::string& dir, const Clock& clock) {
  RETURN_IF_ERROR(EnsureDirectory(dir));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir));
  const absl::Time now = clock.Now();

  ASSIGN_OR_RETURN(std::optional<attest::CertAuthority> root,
                   LoadAuthority(dir, kNsmRootKeyFile, kNsmRootCertFile));
  if (!root.has_value()) {
    attest::CertificateOptions options;
    options.subject = kRootSubject;
    options.not_before = now - kBackdate;
    options.not_after = now + kNsmRootValidity;
    ASSIGN_OR_RETURN(attest::CertAuthority created, attest::CertAuthority::CreateRoot(options));
    RETURN_IF_ERROR(WriteAuthority(dir, created, kNsmRootKeyFile, kNsmRootCertFile));
    LogInfo("nsm_ca_root_created", {{"dir", dir}});
    root.emplace(std::move(created));
  } else {
    ASSIGN_OR_RETURN(attest::CertificateSummary summary,
                     attest::SummarizeCertificate(root->certificate()));
    if (summary.not_after <= now) {
      return absl::FailedPreconditionError(absl::StrCat(
          "nsm ca: the root certificate in ", dir,
          " has expired; remove the directory to create a new CA (and re-trust its root)"));
    }
  }

  // A stale or foreign intermediate is replaced, never trusted.
  absl::StatusOr<std::optional<attest::CertAuthority>> loaded =
      LoadAuthority(dir, kNsmIntermediateKeyFile, kNsmIntermediateCertFile);
  std::optional<attest::CertAuthority> intermediate;
  if (loaded.ok() && loaded->has_value() && IntermediateIsUsable(**loaded, *root, now)) {
    intermediate = std::move(*loaded);
  } else {
    attest::CertificateOptions options;
    options.subject = kIntermediateSubject;
    options.not_before = now - kBackdate;
    options.not_after = now + kNsmIntermediateValidity;
    options.path_length = 0;
    ASSIGN_OR_RETURN(attest::CertAuthority issued, root->IssueIntermediate(options));
    RETURN_IF_ERROR(WriteAuthority(dir, issued, kNsmIntermediateKeyFile, kNsmIntermediateCertFile));
    LogInfo("nsm_ca_intermediate_issued",
            {{"dir", dir},
             {"replaced", loaded.ok() ? (loaded->has_value() ? "stale" : "none")
                                      : std::string(loaded.status().message())}});
    intermediate.emplace(std::move(issued));
  }
  return std::unique_ptr<NsmCertificateChain>(
      new NsmCertificateChain(*std::move(root), *std::move(intermediate)));
}

absl::StatusOr<attest::CertifiedKey> NsmCertificateChain::IssueLeaf(std::string_view common_name,
                                                                    absl::Time now,
                                                                    absl::Duration validity) const {
  attest::CertificateOptions options;
  options.subject = absl::StrCat("CN=", Absl(common_name), ",OU=lockout-local-nsm,O=lockout,C=US");
  options.not_before = now - absl::Minutes(1);
  options.not_after = now + validity;
  return intermediate_.IssueLeaf(options);
}

}  // namespace lockout::localaws
